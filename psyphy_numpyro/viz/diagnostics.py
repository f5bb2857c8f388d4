"""Fitting diagnostics: the learning curve of a MAP fit, trace plots of what the data identify."""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.readouts import covariance_field
from psyphy_numpyro.viz.style import axes

#: Most rows :func:`plot_trace` draws; more would not be readable on one figure.
MAX_TRACE_ROWS = 12


def plot_learning_curve(steps: Any, losses: Any, *, ax: Any = None):
    """Loss (negative log posterior) against step."""
    ax = axes(ax, figsize=(6, 3.5))
    ax.plot(steps, losses, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("negative log posterior")
    ax.set_title("MAP learning curve")
    return ax


def trace_quantities(posterior: Any, params: dict | None = None, *,
                     refs: Any = None) -> dict[str, np.ndarray]:
    r"""The identified quantities of a WPPM, per draw: what :func:`plot_trace` draws.

    MVP: each entry of ``log_diag``. Full WPPM: the entries
    :math:`\Sigma_{00}, \Sigma_{11}, \Sigma_{01}` of :math:`\Sigma(x)` at each
    reference, because ``W`` itself is identified only up to a rotation in
    its embedding (its entries can disagree between chains that describe the
    same observer).

    Parameters
    ----------
    posterior
        A posterior with draws by chain (``draws``, ``model``), e.g. a
        :class:`~psyphy_numpyro.posterior.mcmc.NUTSPosterior`.
    params
        One parameter set instead of the draws (e.g. the simulated truth);
        then each quantity is a float.
    refs
        Full WPPM: references, shape ``(num_refs, 2)``; default the centre
        ``(0, 0)``. Ignored for the MVP.

    Returns
    -------
    dict
        Label to array of shape ``(num_chains, num_draws)`` (or float).
    """
    model = getattr(posterior, "model", None)
    draws = getattr(posterior, "draws", None)
    if model is None or not isinstance(draws, dict):
        raise TypeError(
            "posterior must hold draws by chain (draws, model), e.g. a NUTSPosterior "
            f"from NUTSSampler.fit; got {type(posterior).__name__}."
        )
    site = model.prior.site
    if params is not None:
        value = np.asarray(model.check_params(params)[site])[None, None]
    else:
        value = np.asarray(draws[site])
    if model.is_mvp:
        out = {f"{site}[{i}]": value[:, :, i] for i in range(value.shape[-1])}
    else:
        refs = np.zeros((1, 2)) if refs is None else np.atleast_2d(
            check.finite_array("refs", refs))
        if refs.ndim != 2 or refs.shape[1] != model.input_dim:
            raise ValueError(
                f"refs must have shape (num_refs, {model.input_dim}), got {refs.shape}."
            )
        if len(np.unique(refs, axis=0)) < len(refs):
            raise ValueError(f"refs must be distinct, got {refs.tolist()}.")
        chains, n = value.shape[:2]
        cov = covariance_field(model, {site: value.reshape((-1,) + value.shape[2:])}, refs)
        cov = cov.reshape((chains, n) + cov.shape[1:])
        out = {}
        for r, x in enumerate(refs):
            at = ", ".join(f"{v:.2g}" for v in x)
            for i, j in [(0, 0), (1, 1), (0, 1)]:
                out[f"Sigma_{i}{j} at ({at})"] = cov[:, :, r, i, j]
    if params is not None:
        return {k: float(v[0, 0]) for k, v in out.items()}
    return out


def plot_trace(posterior: Any, *, truth: dict | None = None, refs: Any = None,
               bins: int = 30):
    r"""Trace plot of a WPPM posterior, one row per identified quantity.

    Left: the density of each chain's draws; right: the draws against
    iteration. Each chain has its own colour (in the legend), each quantity
    its own row (named in the row's labels), and the simulated truth, if
    given, is a black line. The quantities are those of
    :func:`trace_quantities`: ``log_diag`` for the MVP, entries of
    :math:`\Sigma(x)` at a few references for the full WPPM (not its many
    ``W`` entries, which rotate freely).

    Parameters
    ----------
    posterior
        A posterior with draws by chain, e.g. from :class:`~psyphy_numpyro.NUTSSampler`.
    truth
        Parameters of the simulated observer, drawn as reference lines.
    refs
        Full WPPM: references whose :math:`\Sigma(x)` is traced, at most
        4 (default ``(0, 0)``).
    bins
        Histogram bins of the density panels.

    Returns
    -------
    np.ndarray
        The axes, shape ``(num_quantities, 2)``.
    """
    import matplotlib.pyplot as plt

    bins = check.positive_int("bins", bins)
    if refs is not None and 3 * len(np.atleast_2d(refs)) > MAX_TRACE_ROWS:
        raise ValueError(
            f"{len(np.atleast_2d(refs))} refs give {3 * len(np.atleast_2d(refs))} "
            f"quantities to trace; at most {MAX_TRACE_ROWS} fit one figure, so pass "
            f"at most {MAX_TRACE_ROWS // 3} refs."
        )
    values = trace_quantities(posterior, refs=refs)
    true = None if truth is None else trace_quantities(posterior, truth, refs=refs)
    rows = len(values)
    fig, ax = plt.subplots(rows, 2, figsize=(10, 1.9 * rows + 0.6), squeeze=False,
                           gridspec_kw={"width_ratios": [1, 2]})
    for row, (label, v) in enumerate(values.items()):
        edges = np.histogram_bin_edges(v, bins=bins)
        for c in range(v.shape[0]):
            color = f"C{c % 10}"
            ax[row, 0].hist(v[c], bins=edges, density=True, histtype="step",
                            color=color, lw=1.2)
            ax[row, 1].plot(v[c], color=color, lw=0.7, alpha=0.8, label=f"chain {c}")
        if true is not None:
            ax[row, 0].axvline(true[label], color="k", lw=1.4, label="truth")
            ax[row, 1].axhline(true[label], color="k", lw=1.4, label="truth")
        ax[row, 0].set_xlabel(label)
        ax[row, 0].set_ylabel("density")
        ax[row, 1].set_ylabel(label)
        ax[row, 1].set_xlabel("draw (after warm-up)")
    ax[0, 1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.suptitle("Posterior draws by chain: the chains should overlap and show no trend")
    fig.tight_layout()
    return ax
