"""Griffe extension: render the package's reST markup in Markdown.

The docstrings are numpydoc with a little reStructuredText inside (``:math:``,
``.. math::``, ``:func:`` and friends), which mkdocstrings would otherwise
print verbatim. Before mkdocstrings parses a docstring, this extension turns

* ``.. math:: ...`` blocks into ``$$ ... $$`` blocks and ``:math:`x``` into
  ``\\(x\\)`` (typeset as MathML by ``pymdownx.arithmatex`` and
  ``docs/_hooks/mathml.py``);
* ``:func:`name```, ``:class:`~a.b.C``` and the other Python roles into inline
  code wrapped in an *optional* autorefs link: it links when the target is
  documented and stays plain code (with no warning) when it is not;
* ``#:`` comments above an attribute (Sphinx's attribute doc comments) into
  that attribute's docstring, so constants such as ``GROUPS`` are documented.

Only the build reads this file (``mkdocs.yml`` loads it); it is not part of
the package.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(func|class|meth|attr|mod|data|obj|exc|const):`([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<rest>.*)$")


def _math_blocks(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_DIRECTIVE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["rest"]] if match["rest"].strip() else []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i])
            i += 1
        # the first line may sit on the directive line: dedent the rest alone
        if match["rest"].strip():
            first, rest = body[0].strip(), body[1:]
        else:
            first, rest = "", body
        parts = [first, textwrap.dedent("\n".join(rest)).strip()]
        maths = [indent + x for x in "\n".join(p for p in parts if p).splitlines()]
        out += ["", f"{indent}$$", *maths, f"{indent}$$", ""]
    return "\n".join(out)


def _candidates(obj: griffe.Object, target: str) -> list[str]:
    package = obj.package.path
    module = obj.module.path
    if target.startswith("."):
        return [f"{package}{target}", f"{module}{target}"]
    found = [target]
    scope = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        found.append(f"{scope.path}.{target}")
        scope = scope.parent
    found.append(f"{package}.{target}")
    return found


def _link(obj: griffe.Object, known: set[str], target: str) -> str:
    target = target.strip()
    short = target.startswith("~")
    target = target.lstrip("~")
    shown = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
    for path in _candidates(obj, target):
        if path in known:
            code = f"<code>{shown}</code>"
            return f'<autoref identifier="{path}" optional>{code}</autoref>'
    return f"`{shown}`"


class RstRoles(griffe.Extension):
    """Rewrite reST roles and math directives in every docstring of a package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        objects = list(_walk(pkg))
        known = {o.path for o in objects} | {
            o.path for o in _walk(pkg, aliases=True) if o.is_alias
        }
        for obj in objects:
            if obj.docstring is None and obj.is_attribute:
                _doc_comment(obj)
            if obj.docstring is None:
                continue
            text = _math_blocks(obj.docstring.value)
            text = _MATH_ROLE.sub(lambda m: rf"\({m[1]}\)", text)
            text = _ROLE.sub(lambda m: _link(obj, known, m[2]), text)
            obj.docstring.value = text


def _doc_comment(attr: griffe.Attribute) -> None:
    """Give ``attr`` the ``#:`` comment lines just above it, if any."""
    try:
        lines = attr.lines_collection[attr.filepath]
    except (KeyError, TypeError):
        return
    found: list[str] = []
    i = (attr.lineno or 0) - 2  # the line above, 0-based
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.insert(0, lines[i].strip()[2:].strip())
        i -= 1
    if found:
        attr.docstring = griffe.Docstring("\n".join(found), parent=attr)


def _walk(obj: griffe.Object, aliases: bool = False):
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            if aliases:
                yield member
            continue
        yield from _walk(member, aliases)
