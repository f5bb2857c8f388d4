"""Progress bars time compiled steps, not compilation; run-time estimates."""

import io
import time
from typing import ClassVar

import jax
import numpy as np
import optax
import pytest
from jax import monitoring
from tqdm.std import tqdm

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer import progress
from psyphy_numpyro.core.infer.progress import RunEstimate, duration


class Recorded(tqdm):
    """A bar that refreshes, and so reads its clock, at every update."""

    opened: ClassVar[list] = []

    def __init__(self, *args, **kwargs):
        kwargs.update(file=io.StringIO(), mininterval=0, miniters=1)
        super().__init__(*args, **kwargs)
        Recorded.opened.append(self)


@pytest.fixture
def compile_times():
    """Wall-clock times (tqdm's clock) at which JAX finishes compiling a program."""
    times = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            times.append(time.time())

    monitoring.register_event_duration_secs_listener(listener)
    Recorded.opened = []
    yield times
    monitoring.unregister_event_duration_listener(listener)


def assert_clock_runs_over_compiled_steps_only(bar, compile_times, steps):
    """Every compilation ended before the bar's clock started, or after its last step."""
    assert bar.n == steps and compile_times  # the fit compiled its loop
    inside = [t for t in compile_times if bar.start_t < t < bar.last_print_t]
    assert not inside, f"{len(inside)} compilation(s) timed as steps"
    assert min(compile_times) < bar.start_t  # the loop was compiled first


@pytest.mark.parametrize("runner", ["map", pytest.param("svi", marks=pytest.mark.slow)])
def test_the_bar_times_the_compiled_steps(runner, compile_times, mvp_model, seed_data,
                                          monkeypatch):
    # A bar whose clock ran through the first call's compilation would time
    # it as the first chunk of steps: its rate and remaining time would start
    # wrong by the ratio of compile time to step time (hours for a fit that
    # takes a second).
    monkeypatch.setattr(progress, "tqdm", Recorded)
    trials = mvp_model.trials(seed_data)
    args = (mvp_model.numpyro_model, trials.ref, trials.probe, trials.responses)
    optimizer = optax.adam(1e-3)  # a new object: its loop is compiled afresh
    if runner == "map":
        pn.fit_map(jax.random.PRNGKey(0), *args, num_steps=200, optimizer=optimizer,
                   progress_every=100)
    else:
        pn.fit_svi(jax.random.PRNGKey(0), *args, num_steps=200, optimizer=optimizer)
    (bar,) = Recorded.opened
    assert_clock_runs_over_compiled_steps_only(bar, compile_times, 200)
    assert bar.desc == {"map": "MAP (SVI)", "svi": "SVI"}[runner] + ": "  # not compiling
    assert bar.format_dict["rate"] > 0


@pytest.mark.slow  # compiles NUTS
def test_the_nuts_bar_times_the_compiled_iterations(compile_times, mvp_model, seed_data,
                                                    monkeypatch, capsys):
    import tqdm as tqdm_module

    monkeypatch.delenv("CI", raising=False)  # NumPyro hides its bar on CI
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(tqdm_module, "trange", lambda n, **kw: Recorded(range(n), **kw))
    pn.NUTSSampler(num_warmup=50, num_samples=50, num_chains=2, seed=1).fit(
        mvp_model, seed_data)
    (bar,) = Recorded.opened  # NumPyro's bar over warm-up and sampling
    assert_clock_runs_over_compiled_steps_only(bar, compile_times, 100)
    assert "compiling" in capsys.readouterr().err  # said while there was no bar


def test_run_estimate_is_gradient_time_times_gradients_per_iteration():
    est = RunEstimate(gradient_seconds=0.004, iterations=400, gradients=(31, 63, 127))
    np.testing.assert_allclose(est.seconds, (0.004 * 400 * 31, 0.004 * 400 * 63,
                                             0.004 * 400 * 127))
    assert est.describe() == ("about 1.7 min (50 s to 3.4 min at 31 to 127 gradients "
                              "per iteration, 63 assumed; one gradient 4 ms)")
    assert [duration(s) for s in (4.25, 42.0, 100.0, 720.0, 9000.0)] == [
        "4.2 s", "42 s", "1.7 min", "12 min", "2.5 h"]


@pytest.mark.slow  # compiles a full WPPM's MALA chain
# 50 warm-up steps from step_size=1e-3 adapt erratically: the acceptance rate of
# this seed swings between 5% and 40% with rounding (traced or constant data);
# only the run's duration is checked here
@pytest.mark.filterwarnings("ignore:the Langevin chain accepted:RuntimeWarning")
def test_the_estimate_before_a_langevin_run_matches_its_duration(compile_times,
                                                                 monkeypatch, capsys):
    # MALA takes one leapfrog step per iteration, so its estimate rests on the
    # timed gradient alone (times MALA_GRADIENTS, the step's measured cost in
    # gradients): it must match the time NumPyro's bar measures over the
    # compiled iterations, and no compilation may fall inside that time
    # (NumPyro's HMC recompiled its loop at the second iteration, 15 times the
    # estimate, until the kernel kept its state's types).
    import tqdm as tqdm_module

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(tqdm_module, "trange", lambda n, **kw: Recorded(range(n), **kw))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2))
    rng = np.random.default_rng(0)
    ref = rng.uniform(-0.8, 0.8, (1000, 2))
    probe = np.clip(ref + rng.normal(0, 0.1, ref.shape), -1, 1)
    data = pn.TrialData(np.stack([ref, probe], 1), rng.integers(0, 2, 1000))
    sampler = pn.LangevinSampler(steps=150, step_size=1e-3, num_warmup=50)
    fit = sampler.fit(model, data, init_params=model.init_params(jax.random.PRNGKey(0)))
    assert fit.model.estimator == "quadrature"  # chosen for the deterministic density
    line = capsys.readouterr().err
    assert "LangevinSampler: 1 chain(s) x 200 iterations on 1000 trials" in line
    assert 'OddityTaskConfig(estimator="mc") keeps Monte Carlo' in line
    gradient_s = float(line.split("one gradient ")[1].split(" ms")[0]) / 1e3
    estimate_s = gradient_s * 200 * progress.MALA_GRADIENTS[1]
    (bar,) = Recorded.opened
    assert_clock_runs_over_compiled_steps_only(bar, compile_times, 200)
    measured_s = bar.last_print_t - bar.start_t
    # the gradient is timed while the other xdist worker may be busy (one CI run read
    # 16.6 ms, an estimate 6x the run); a recompiling loop runs 15x the estimate
    assert 0.1 < measured_s / estimate_s < 5, (measured_s, line)
    assert "MALA: compiling" in line
