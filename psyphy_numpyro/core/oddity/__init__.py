r"""The three estimators of the oddity task's p(correct) in the full WPPM.

Each takes the square roots :math:`U(x)` at the reference and the comparison
(:math:`\Sigma(x) = U U^T + \epsilon I`) and returns p(correct) per trial:

- :mod:`.psyphy_draws`: psyphy 0.0.5's Monte Carlo rule on its own draws
  (any noise model; bit-for-bit psyphy's numbers for the same key);
- :mod:`.gaussian_mc`: the same estimator in a reduced form for Gaussian
  noise, many times faster, with a hand-written gradient;
- :mod:`.quadrature`: a deterministic rule for 2-D and 3-D stimuli with Gaussian
  noise, smooth in the parameters (for NUTS and Laplace).

Examples
--------
Identical stimuli give chance, 1/3: within the quadrature rule's integration
error, and within three Monte Carlo standard errors for the two sampling rules.

>>> import jax, jax.numpy as jnp
>>> from psyphy_numpyro.core.oddity import gaussian_mc, psyphy_draws, quadrature
>>> U, x, key = 0.1 * jnp.eye(2, 3), jnp.zeros(2), jax.random.PRNGKey(0)
>>> settings = dict(diag_term=1e-6, bandwidth=1e-2, clip=1e-6)
>>> p_rule = quadrature.quadrature_p_correct(U, U, x, x, quadrature.quadrature_rule(),
...                                          **settings)
>>> p_fast = gaussian_mc.gaussian_mc_p_correct(
...     U, U, x, x, gaussian_mc.gaussian_draws(key, None, 4000, 2), **settings)
>>> p_psyphy = psyphy_draws.oddity_p_correct(
...     U, U, x, x, psyphy_draws.standard_normal_draws(key, None, 4000, 3, 2), **settings)
>>> se = (2 / 9 / 4000) ** 0.5
>>> bool(abs(p_rule - 1 / 3) < 3e-3), bool(abs(p_fast - 1 / 3) < 3 * se)
(True, True)
>>> bool(abs(p_psyphy - 1 / 3) < 3 * se)
True
"""
