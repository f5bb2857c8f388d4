"""fit_map_many: S padded datasets in one program equal S separate fit_map runs."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.map_many import device_layout
from psyphy_numpyro.inference.map_optimizer import _ScaledModel

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def datasets_of(model, truth, sizes, spread):
    """Trials of ``truth`` at uniform references, one dataset per size."""
    out = []
    for s, n in enumerate(sizes):
        rng = np.random.default_rng(s)
        ref = rng.uniform(-0.7, 0.7, (n, 2))
        probe = np.clip(ref + rng.normal(0.0, spread, ref.shape), -1.0, 1.0)
        y = pn.simulate_responses(jax.random.PRNGKey(s + 1), model, truth, ref, probe)
        out.append((ref.astype(np.float32), probe.astype(np.float32),
                    np.asarray(y, np.float32)))
    return out


def separate_fits(keys, model, datasets, starts, scales, **settings):
    return [pn.fit_map(keys[s], _ScaledModel(model, scales[s]), *data, init_params=starts[s],
                       progress_bar=False, **settings)
            for s, data in enumerate(datasets)]


@pytest.mark.slow  # four compilations (~8 s); the not-slow loop keeps the checks below
def test_mvp_fits_of_different_sizes_equal_their_separate_fits(mvp_model, seed_truth):
    datasets = datasets_of(mvp_model, seed_truth, (60, 150, 90), 0.3)
    keys = jax.random.split(jax.random.PRNGKey(4), 3)
    starts = [mvp_model.init_params(jax.random.PRNGKey(s)) for s in range(3)]
    settings = dict(num_steps=200, learning_rate=2e-2, momentum=0.9)
    many = pn.fit_map_many(keys, mvp_model.numpyro_model, datasets, init_params=starts,
                           progress_bar=False, **settings)
    for s, one in enumerate(separate_fits(keys, mvp_model, datasets, starts, [1.0] * 3,
                                          **settings)):
        np.testing.assert_allclose(many.params["log_diag"][s], one.params["log_diag"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(many.losses[s], one.losses, rtol=1e-5, atol=1e-4)
    assert list(many.num_steps_run) == [200] * 3


@pytest.mark.slow  # compiles the full WPPM three times (~25 s)
def test_full_wppm_fits_with_per_trial_means_equal_their_separate_fits():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)
    datasets = datasets_of(model, model.init_params(jax.random.PRNGKey(3)), (150, 240), 0.05)
    keys = jax.random.split(jax.random.PRNGKey(1), 2)
    starts = [model.init_params(jax.random.PRNGKey(s)) for s in range(2)]
    scales = [1.0 / len(d[0]) for d in datasets]
    settings = dict(num_steps=100, learning_rate=5e-4, momentum=0.9)
    many = pn.fit_map_many(keys, model.numpyro_model, datasets, init_params=starts,
                           scales=scales, progress_bar=False, **settings)
    for s, one in enumerate(separate_fits(keys, model, datasets, starts, scales, **settings)):
        moved = np.abs(one.params["W"] - starts[s]["W"]).max()
        assert moved > 0.01  # the fits went somewhere
        np.testing.assert_allclose(many.params["W"][s], one.params["W"], atol=1e-5 * moved)
        np.testing.assert_allclose(many.losses[s], one.losses, rtol=1e-5, atol=1e-6)


def test_a_diverging_dataset_stops_alone(mvp_model, seed_truth):
    datasets = datasets_of(mvp_model, seed_truth, (80, 80), 0.3)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    starts = [mvp_model.init_params(jax.random.PRNGKey(1))] * 2
    settings = dict(num_steps=100, learning_rate=1e-2, momentum=0.9)
    with pytest.warns(RuntimeWarning, match="dataset 1 stopped"):
        many = pn.fit_map_many(keys, mvp_model.numpyro_model, datasets, init_params=starts,
                               scales=[1.0, 1e8], progress_bar=False, **settings)
    assert many.num_steps_run[0] == 100 and many.num_steps_run[1] < 100
    assert np.all(np.isfinite(many.params["log_diag"]))
    one = separate_fits(keys, mvp_model, datasets[:1], starts, [1.0], **settings)[0]
    np.testing.assert_allclose(many.params["log_diag"][0], one.params["log_diag"], rtol=1e-5)


def test_bad_batches_are_refused_before_compiling(mvp_model, seed_truth):
    good = datasets_of(mvp_model, seed_truth, (10, 12), 0.3)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    fit = lambda datasets=good, **kw: pn.fit_map_many(  # noqa: E731
        kw.pop("keys", keys), mvp_model.numpyro_model, datasets, num_steps=5,
        progress_bar=False, **kw)
    with pytest.raises(ValueError, match="datasets is empty"):
        fit([], keys=keys[:0])
    with pytest.raises(ValueError, match=r"datasets\[1\] has no trials"):
        fit([good[0], tuple(x[:0] for x in good[1])])
    with pytest.raises(ValueError, match="different stimulus dimensions"):
        fit([good[0], (np.zeros((3, 3)), np.zeros((3, 3)), np.ones(3))])
    with pytest.raises(TypeError, match="rng_keys must be 2 JAX PRNG keys"):
        fit(keys=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="init_params holds 1 starts for 2 datasets"):
        fit(init_params=[mvp_model.init_params(jax.random.PRNGKey(0))])
    with pytest.raises(ValueError, match="scales must be finite and positive"):
        fit(scales=[1.0, 0.0])
    with pytest.raises(TypeError, match=r"datasets\[0\] must be a \(ref, probe, responses\)"):
        fit([good[0][:2], good[1]])


def test_one_device_needs_no_mesh():
    layout = device_layout(3, 1000, jax.devices()[:1])
    assert layout == (None, 3, 1000)
    with pytest.raises(TypeError, match="devices must be"):
        device_layout(3, 1000, ["cpu"])


SHARDED = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    import psyphy_numpyro as pn
    from psyphy_numpyro.core.infer.map_many import device_layout
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2), task=pn.OddityTask())
    truth = {"log_diag": np.log(np.array([0.9, 0.01], np.float32))}
    out = {"devices": len(jax.devices())}
    for sizes in ([60, 150, 90], [130]):
        datasets = []
        for s, n in enumerate(sizes):
            rng = np.random.default_rng(s)
            ref = rng.uniform(-0.7, 0.7, (n, 2)).astype(np.float32)
            probe = (ref + rng.normal(0, 0.3, ref.shape)).astype(np.float32)
            y = np.asarray(pn.simulate_responses(jax.random.PRNGKey(s), model, truth, ref,
                                                 probe), np.float32)
            datasets.append((ref, probe, y))
        keys = jax.random.split(jax.random.PRNGKey(0), len(sizes))
        starts = [model.init_params(jax.random.PRNGKey(s)) for s in range(len(sizes))]
        fits = [pn.fit_map_many(keys, model.numpyro_model, datasets, init_params=starts,
                                num_steps=150, progress_bar=False, devices=devices)
                for devices in (jax.devices()[:1], None)]
        mesh = device_layout(len(sizes), max(sizes)).mesh
        out[str(len(sizes))] = {
            "mesh": dict(mesh.shape),
            "diff": float(np.abs(fits[0].params["log_diag"] - fits[1].params["log_diag"]).max()),
            "moved": float(np.abs(fits[0].params["log_diag"] - np.stack(
                [s["log_diag"] for s in starts])).max()),
        }
    print(json.dumps(out))
""")


@pytest.mark.slow  # a fresh process with four virtual devices (~15 s)
def test_a_fit_sharded_over_four_devices_equals_the_unsharded_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    # three observers: two observer shards, each splitting its trials in two
    assert out["3"]["mesh"] == {"observer": 2, "trial": 2}
    # one large observer: its trials over all four devices
    assert out["1"]["mesh"] == {"observer": 1, "trial": 4}
    for case in ("3", "1"):
        assert out[case]["moved"] > 0.1
        assert out[case]["diff"] < 1e-5 * out[case]["moved"] + 1e-6


TWO_PROCESSES = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2,
                               process_id=int(sys.argv[1]))
    import numpy as np
    import psyphy_numpyro as pn
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2), task=pn.OddityTask())
    datasets = [tuple(np.asarray(x, np.float32) for x in d) for d in json.loads(sys.argv[3])]
    keys = jax.random.split(jax.random.PRNGKey(0), len(datasets))
    starts = [model.init_params(jax.random.PRNGKey(s)) for s in range(len(datasets))]
    fit = pn.fit_map_many(keys, model.numpyro_model, datasets, init_params=starts,
                          num_steps=150, progress_bar=False)
    print(json.dumps({"devices": len(jax.devices()), "params": fit.params["log_diag"].tolist()}))
""")


@pytest.mark.slow  # two fresh processes, each compiling (~25 s)
def test_two_processes_on_jax_distributed_give_the_one_process_fit(mvp_model, seed_truth):
    import socket

    datasets = datasets_of(mvp_model, seed_truth, (60, 150, 90), 0.3)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    starts = [mvp_model.init_params(jax.random.PRNGKey(s)) for s in range(3)]
    alone = pn.fit_map_many(keys, mvp_model.numpyro_model, datasets, init_params=starts,
                            num_steps=150, progress_bar=False)
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        address = f"localhost:{sock.getsockname()[1]}"
    payload = json.dumps([[x.tolist() for x in d] for d in datasets])
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, str(i), address, payload],
                              env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    for out, _ in outs:
        result = json.loads(out.strip().splitlines()[-1])
        assert result["devices"] == 2  # one CPU device per process, both in the mesh
        np.testing.assert_allclose(result["params"], alone.params["log_diag"], rtol=1e-5,
                                   atol=1e-6)
    assert np.abs(alone.params["log_diag"] - np.stack([s["log_diag"] for s in starts])).max() > 0.1
