"""psyphy_numpyro: the Wishart Process Psychophysical Model as a NumPyro program."""

from .approximate import ParameterPosterior
from .band_plots import (
    plot_covariance_band,
    plot_psychometric_band,
    plot_threshold_bands,
)
from .bands import (
    CovarianceBand,
    PsychometricBand,
    ThresholdBands,
    binned_proportions,
    covariance_band,
    psychometric_band,
    threshold_bands,
)
from .basis import chebyshev_basis
from .convert import GROUPS, draws_to_inference_data, to_inference_data
from .covariance import diagonal_covariance, mahalanobis
from .data import ResponseData, TrialBatch, TrialData, Trials, as_trials
from .field import CovarianceField, WPPMCovarianceField
from .gauge import align_embedding
from .io import load_responses_csv, save_responses_csv
from .langevin import LangevinPosterior, LangevinSampler, NumpyroSampler, run_mala
from .laplace import (
    LaplaceApproximation,
    LaplacePosterior,
    LaplaceResult,
    laplace_approximation,
)
from .map import MAPOptimizer, MAPPosterior, MAPResult, clip_and_count, fit_map
from .mcmc import NUTSPosterior, NUTSSampler, run_nuts
from .model import WPPM, wppm_model
from .noise import GaussianNoise, StudentTNoise
from .persist import load_fit, model_config, model_from_config, save_fit
from .placement import (
    GridPlacement,
    SobolPlacement,
    comparisons_along_directions,
    reference_points,
)
from .plots import (
    auto_scale,
    ellipse_segments,
    plot_ellipse_field,
    plot_ellipses,
    plot_learning_curve,
    plot_thresholds,
)
from .predictive import PredictivePosterior, ThresholdConfig, WPPMPredictivePosterior
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
from .svi import SVIApproximation, SVIPosterior, SVIResult, fit_svi
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
    "NumpyroSampler",
    "LaplaceApproximation",
    "LaplacePosterior",
    "LangevinSampler",
    "LangevinPosterior",
    "SVIApproximation",
    "SVIPosterior",
    "ParameterPosterior",
    "WPPMCovarianceField",
    "CovarianceField",
    "WPPMPredictivePosterior",
    "PredictivePosterior",
    "ThresholdConfig",
    "chebyshev_basis",
    "plot_ellipses",
    "ellipse_segments",
    "auto_scale",
    # functional core
    "wppm_model",
    "fit_map",
    "MAPResult",
    "clip_and_count",
    "run_nuts",
    "laplace_approximation",
    "LaplaceResult",
    "fit_svi",
    "SVIResult",
    "run_mala",
    "to_inference_data",
    "draws_to_inference_data",
    "save_fit",
    "load_fit",
    "model_config",
    "model_from_config",
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
    "align_embedding",
    "threshold_bands",
    "ThresholdBands",
    "covariance_band",
    "CovarianceBand",
    "psychometric_band",
    "PsychometricBand",
    "binned_proportions",
    "plot_threshold_bands",
    "plot_covariance_band",
    "plot_psychometric_band",
    "reference_grid",
    "plot_learning_curve",
]
