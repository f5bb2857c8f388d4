"""MkDocs hook: typeset the site's formulas as MathML while the site is built.

``pymdownx.arithmatex`` (generic mode) wraps every formula, on the pages and in
the docstrings of the API reference, in ``<span class="arithmatex">\\(...\\)</span>``
or ``<div class="arithmatex">\\[...\\]</div>``. This hook replaces the TeX inside
with the MathML that ``latex2mathml`` writes. Browsers render MathML themselves
(Firefox, Safari, and Chrome and Edge since version 109), so the built site shows
its equations with no JavaScript and no network.

Only the build reads this file (``mkdocs.yml`` loads it); it is not part of the
package. A formula ``latex2mathml`` cannot read stops the build, naming the page.
"""

from __future__ import annotations

import html
import re
from typing import Any

from latex2mathml.converter import convert

_FORMULA = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.DOTALL)
_DELIMITERS = {"span": ("\\(", "\\)"), "div": ("\\[", "\\]")}
# a capital Greek letter alone in <mi> (U+0391 to U+03A9, as latex2mathml writes
# it): MathML slants single letters, TeX keeps capital Greek upright
_CAPITAL_GREEK = re.compile(r"<mi>(&#x003(?:9[1-9A-F]|A[0-9]);)</mi>")


def typeset(html_text: str, where: str = "the page") -> str:
    """Replace the TeX of every arithmatex element of ``html_text`` by MathML."""

    def one(match: re.Match) -> str:
        tag, text = match[1], html.unescape(match[2]).strip()
        opening, closing = _DELIMITERS[tag]
        if not (text.startswith(opening) and text.endswith(closing)):
            raise ValueError(f"{where}: unexpected formula markup {text[:60]!r}.")
        tex = text[len(opening):-len(closing)].strip()
        try:
            mathml = convert(tex, display="block" if tag == "div" else "inline")
        except Exception as err:  # latex2mathml raises its own error types
            raise ValueError(f"{where}: cannot typeset {tex[:80]!r}: {err}") from err
        mathml = _CAPITAL_GREEK.sub(r'<mi mathvariant="normal">\1</mi>', mathml)
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    return _FORMULA.sub(one, html_text)


def on_page_content(html_text: str, page: Any, **kwargs: Any) -> str:
    """MkDocs event: the page's HTML, before the theme wraps it."""
    return typeset(html_text, page.file.src_uri)
