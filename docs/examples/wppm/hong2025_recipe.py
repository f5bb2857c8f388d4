"""Hong et al.'s threshold ellipses, read back from their published weights.

The recipe quoted on docs/hong2025.md (the region between the snippet
markers): fetch one observer's files, build the paper's model, wrap the
published fit ``W_org`` in a ``MAPPosterior``, read the model's threshold
ellipses (66.7 % correct, 16 directions) on the published 7 x 7 grid with
``WPPMPredictivePosterior``, and set them beside the published table. Nothing
is fitted, so it takes seconds to minutes, not hours
(``hong2025_reproduce.py`` refits).

Run it (under 2 MB per observer, downloaded once)::

    python docs/examples/wppm/hong2025_recipe.py                    # observer 1
    python docs/examples/wppm/hong2025_recipe.py --subject 4 --mc-samples 500

``--mc-samples`` sets the Monte Carlo samples per p(correct) (default the
paper's 2,000); ``--data-dir`` points at another copy of the files
(``<dir>/sub<N>/<file>``).
"""

from __future__ import annotations

import argparse

# --8<-- [start:recipe]
import numpy as np

from psyphy_numpyro.data.published import hong2025
from psyphy_numpyro.posterior import (
    MAPPosterior,
    ThresholdConfig,
    WPPMPredictivePosterior,
)


def published_thresholds(subject=1, *, data_dir=None, mc_samples=None):
    """References (49, 2), our and the published threshold covariances (49, 2, 2),
    and the ratio of our ellipse's area to the published one's (49,)."""
    paths = hong2025.fetch(subject=subject, data_dir=data_dir)  # cached after the first call
    model = hong2025.build_paper_model(mc_samples=mc_samples)   # None: the paper's 2,000
    W = hong2025.load_reference_W(paths["weights"], column="W_org")  # (5, 5, 2, 3)
    posterior = MAPPosterior(params={"W": W}, model=model)
    coords, published = hong2025.load_sigma_table(paths["thres_ellipses"])
    paper = hong2025.PAPER_HYPERPARAMS
    predictive = WPPMPredictivePosterior(
        posterior,
        X=coords,               # the published 7 x 7 grid of references
        n_samples=1,            # a point posterior: one draw is all of it
        threshold_pred=True,
        threshold_config=ThresholdConfig(n_theta=paper["threshold_directions"],
                                         target_pc=paper["target_pC"]),
    )
    ours = np.asarray(predictive.mean)
    # ellipse area ratio, ours / published, at each reference
    area_ratio = np.sqrt(np.linalg.det(ours) / np.linalg.det(published))
    return coords, ours, published, area_ratio
# --8<-- [end:recipe]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", type=int, default=1,
                        choices=sorted(hong2025.SUBJECT_INITIALS))
    parser.add_argument("--data-dir", help="folder of sub<N>/ (default: the cache)")
    parser.add_argument("--mc-samples", type=int,
                        help="Monte Carlo samples per p(correct) (default: the paper's)")
    args = parser.parse_args()
    _, _, _, ratio = published_thresholds(args.subject, data_dir=args.data_dir,
                                          mc_samples=args.mc_samples)
    print(f"sub{args.subject}: area of our ellipse / the published one at "
          f"{len(ratio)} references: median {np.median(ratio):.3f}, range "
          f"{ratio.min():.3f} to {ratio.max():.3f}")
