"""Memory over many fits in one process stays flat (issue 19, part 4)."""

import json
import subprocess
import sys
import textwrap

import pytest

from psyphy_numpyro.core.caches import clear_caches
from psyphy_numpyro.core.infer import map as map_runner
from psyphy_numpyro.core.oddity.quadrature import quadrature_rule

SCRIPT = textwrap.dedent("""
    import ctypes, json, os, sys
    import jax, numpy as np
    import psyphy_numpyro as pn

    def rss_mb():  # after glibc hands freed pages back, so fragmentation is not growth
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    kind, fits, clear = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"  # same/sizes/nuts
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    truth = {"log_diag": np.array([-1.0, -2.0])}
    rss = []
    for i in range(fits):
        size = 100 + 7 * i if kind == "sizes" else 100
        data = pn.simulate_trials(jax.random.PRNGKey(i), model, truth, size)
        if kind == "nuts":
            pn.NUTSSampler(num_warmup=50, num_samples=50, num_chains=2, seed=i,
                           progress_bar=False).fit(model, data)
        else:
            pn.MAPOptimizer(steps=50, show_progress=False).fit(model, data)
        if clear:
            pn.clear_caches()
        rss.append(rss_mb())
    print(json.dumps(rss))
""")


def growth_per_fit(kind, fits, clear):
    """Resident memory growth per fit from the 10th fit on, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", SCRIPT, kind, str(fits), str(int(clear))],
                         capture_output=True, text=True, check=True, timeout=900)
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    return (rss[-1] - rss[9]) / (fits - 10)


def test_clear_caches_empties_the_packages_caches():
    quadrature_rule(2, 2, 2)
    assert quadrature_rule.cache_info().currsize >= 1
    clear_caches()
    assert quadrature_rule.cache_info().currsize == 0
    assert map_runner.sgd_with_momentum.cache_info().currsize == 0


@pytest.mark.slow  # 50 MAP fits in a fresh process
def test_fifty_map_fits_of_one_size_reuse_their_program():
    assert growth_per_fit("same", 50, clear=False) < 1.0  # MB per fit


@pytest.mark.slow  # 15 MAP fits, each of a new size
def test_fifteen_map_fits_of_new_sizes_stay_flat_with_clear_caches():
    # without clearing, each new size keeps its compiled programs (~16 MB here)
    assert growth_per_fit("sizes", 15, clear=True) < 1.5


@pytest.mark.slow  # 50 NUTS fits (2 vectorised chains) of new data in a fresh process
def test_fifty_nuts_fits_of_one_size_reuse_their_sampler():
    # NumPyro alone compiles and keeps a new sampler at every run: 17 MB per
    # fit of 100 + 100 iterations with 1 chain, 24 MB with 4 vectorised chains,
    # measured before the package kept its MCMC objects; 0.03 MB or less after
    assert growth_per_fit("nuts", 50, clear=False) < 1.0  # MB per fit
