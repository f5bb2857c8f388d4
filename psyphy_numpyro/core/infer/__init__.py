"""Runners of NumPyro inference on any NumPyro model (the WPPM's above all).

:mod:`.map` (SVI with ``AutoDelta`` and optax), :mod:`.map_many` (many
datasets in one vectorised, sharded program), :mod:`.bootstrap` (refits of
resampled trials), :mod:`.mcmc` (NUTS and the
shared MCMC policy), :mod:`.mala` (Langevin), :mod:`.svi` (Gaussian
autoguides), :mod:`.laplace` (Gaussians from the curvature), :mod:`.laplace_basis`
(NUTS in the Laplace approximation's eigenbasis),
:mod:`.inputs` (the estimator and the fixed Monte Carlo samples that make a
density deterministic) and :mod:`.progress` (progress bars that time compiled
steps, run-time estimates). Each returns an immutable result; the classes in
:mod:`psyphy_numpyro.inference` choose their settings.
"""
