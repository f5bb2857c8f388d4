"""psyphy_numpyro: the Wishart Process Psychophysical Model as a NumPyro program."""

from .convert import GROUPS, to_inference_data
from .covariance import diagonal_covariance, mahalanobis
from .data import ResponseData, TrialBatch, TrialData, Trials, as_trials
from .io import load_responses_csv, save_responses_csv
from .map import MAPOptimizer, MAPPosterior, MAPResult, fit_map
from .mcmc import NUTSPosterior, NUTSSampler, run_nuts
from .model import WPPM, wppm_model
from .noise import GaussianNoise, StudentTNoise
from .placement import (
    GridPlacement,
    SobolPlacement,
    comparisons_along_directions,
    reference_points,
)
from .plots import plot_ellipse_field, plot_learning_curve, plot_thresholds
from .priors import Prior
from .readouts import (
    Contour,
    ContourBand,
    EllipseFit,
    contour_band,
    covariance_field,
    find_thresholds,
    fit_ellipse,
    reference_grid,
    threshold_contour,
)
from .simulate import probes_around, simulate_responses, simulate_trials
from .tasks import OddityTask, OddityTaskConfig, TwoAFC

__version__ = "0.1.0"

__all__ = [
    # psyphy's interface
    "WPPM",
    "Prior",
    "OddityTask",
    "OddityTaskConfig",
    "TwoAFC",
    "GaussianNoise",
    "StudentTNoise",
    "ResponseData",
    "TrialData",
    "TrialBatch",
    "save_responses_csv",
    "load_responses_csv",
    "GridPlacement",
    "SobolPlacement",
    "MAPOptimizer",
    "MAPPosterior",
    "NUTSSampler",
    "NUTSPosterior",
    # functional core
    "wppm_model",
    "fit_map",
    "MAPResult",
    "run_nuts",
    "to_inference_data",
    "GROUPS",
    "Trials",
    "as_trials",
    "diagonal_covariance",
    "mahalanobis",
    # simulation, readouts, plots
    "probes_around",
    "reference_points",
    "comparisons_along_directions",
    "simulate_responses",
    "simulate_trials",
    "threshold_contour",
    "contour_band",
    "Contour",
    "ContourBand",
    "plot_thresholds",
    "plot_ellipse_field",
    "fit_ellipse",
    "EllipseFit",
    "find_thresholds",
    "covariance_field",
    "reference_grid",
    "plot_learning_curve",
]
