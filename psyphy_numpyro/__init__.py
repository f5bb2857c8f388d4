"""psyphy_numpyro: the Wishart Process Psychophysical Model as a NumPyro program."""

from psyphy_numpyro import (  # psyphy's subpackages, as attributes
    core,
    data,
    experiment,
    inference,
    model,
    posterior,
    trial_placement,
    utils,
    viz,
)
from psyphy_numpyro.core.bands import (
    CovarianceBand,
    PsychometricBand,
    ThresholdBands,
    binned_proportions,
    covariance_band,
    psychometric_band,
    threshold_bands,
)
from psyphy_numpyro.core.basis import chebyshev_basis
from psyphy_numpyro.core.caches import clear_caches
from psyphy_numpyro.core.covariance import diagonal_covariance, mahalanobis
from psyphy_numpyro.core.design import comparisons_along_directions, reference_points
from psyphy_numpyro.core.fit_checks import (
    BinnedCheck,
    Residuals,
    binned_check,
    deviance_residuals,
    held_out_bands,
    residual_trend,
)
from psyphy_numpyro.core.gauge import align_embedding
from psyphy_numpyro.core.idata import GROUPS, draws_to_inference_data, to_inference_data
from psyphy_numpyro.core.infer.bootstrap import BootstrapResult, fit_bootstrap, newton_bootstrap
from psyphy_numpyro.core.infer.laplace import LaplaceResult, laplace_approximation
from psyphy_numpyro.core.infer.mala import run_mala
from psyphy_numpyro.core.infer.map import MAPResult, clip_and_count, fit_map
from psyphy_numpyro.core.infer.map_many import MAPManyResult, fit_map_many
from psyphy_numpyro.core.infer.mcmc import run_nuts, run_nuts_until
from psyphy_numpyro.core.infer.svi import SVIResult, fit_svi
from psyphy_numpyro.core.lapse import LapsePrior
from psyphy_numpyro.core.noise import GaussianNoise, StudentTNoise
from psyphy_numpyro.core.numpyro_model import wppm_model
from psyphy_numpyro.core.population import PopulationSpec, observer_params
from psyphy_numpyro.core.prior import Prior
from psyphy_numpyro.core.readouts import (
    Contour,
    ContourBand,
    EllipseFit,
    contour_band,
    covariance_entries,
    covariance_field,
    find_thresholds,
    fit_ellipse,
    reference_grid,
    threshold_contour,
)
from psyphy_numpyro.core.simulate import (
    probes_around,
    simulate_responses,
    simulate_trials,
)
from psyphy_numpyro.core.tasks import OddityTask, OddityTaskConfig, TwoAFC
from psyphy_numpyro.core.trials import TrialData, Trials, as_trials
from psyphy_numpyro.data.dataset import ResponseData, TrialBatch
from psyphy_numpyro.data.fits import load_fit, model_config, model_from_config, save_fit
from psyphy_numpyro.data.io import load_responses_csv, save_responses_csv
from psyphy_numpyro.experiment.session import ExperimentSession, read_session
from psyphy_numpyro.inference.bootstrap import bootstrap
from psyphy_numpyro.inference.langevin import LangevinSampler, NumpyroSampler
from psyphy_numpyro.inference.laplace import LaplaceApproximation
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer
from psyphy_numpyro.inference.nuts import NUTSSampler
from psyphy_numpyro.inference.population import fit_population
from psyphy_numpyro.inference.refit import MAPLaplaceRefit
from psyphy_numpyro.inference.svi import SVIApproximation
from psyphy_numpyro.model.covariance_field import CovarianceField, WPPMCovarianceField
from psyphy_numpyro.model.wppm import WPPM
from psyphy_numpyro.posterior.bootstrap import BootstrapPosterior
from psyphy_numpyro.posterior.langevin import LangevinPosterior
from psyphy_numpyro.posterior.laplace import LaplacePosterior
from psyphy_numpyro.posterior.mcmc import NUTSPosterior
from psyphy_numpyro.posterior.parameter_posterior import ParameterPosterior
from psyphy_numpyro.posterior.population import PopulationPosterior, observers_inference_data
from psyphy_numpyro.posterior.posterior import MAPPosterior
from psyphy_numpyro.posterior.predictive_posterior import (
    PredictivePosterior,
    ThresholdConfig,
    WPPMPredictivePosterior,
)
from psyphy_numpyro.posterior.svi import SVIPosterior
from psyphy_numpyro.trial_placement.grid import GridPlacement
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement
from psyphy_numpyro.trial_placement.sobol import SobolPlacement
from psyphy_numpyro.viz.bands import (
    plot_covariance_band,
    plot_psychometric_band,
    plot_threshold_bands,
)
from psyphy_numpyro.viz.diagnostics import plot_learning_curve
from psyphy_numpyro.viz.ellipses import plot_ellipse_field, plot_ellipses
from psyphy_numpyro.viz.fit_checks import (
    plot_binned_check,
    plot_held_out,
    plot_residuals,
)
from psyphy_numpyro.viz.geometry import auto_scale, ellipse_segments
from psyphy_numpyro.viz.thresholds import plot_thresholds

__version__ = "0.1.0"

__all__ = [
    # subpackages (psyphy lists its own; core and viz are ours)
    "core",
    "data",
    "experiment",
    "inference",
    "model",
    "posterior",
    "trial_placement",
    "utils",
    "viz",
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
    "run_nuts_until",
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
    "covariance_entries",
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
    # lapses and goodness of fit
    "LapsePrior",
    "binned_check",
    "BinnedCheck",
    "deviance_residuals",
    "Residuals",
    "residual_trend",
    "held_out_bands",
    "plot_binned_check",
    "plot_residuals",
    "plot_held_out",
    # adaptive experiments
    "ExperimentSession",
    "read_session",
    "InfoGainPlacement",
    "MAPLaplaceRefit",
    # many observers
    "bootstrap",
    "BootstrapPosterior",
    "fit_map_many",
    "MAPManyResult",
    "fit_bootstrap",
    "newton_bootstrap",
    "BootstrapResult",
    "fit_population",
    "PopulationPosterior",
    "observers_inference_data",
    "PopulationSpec",
    "observer_params",
    # memory
    "clear_caches",
]
