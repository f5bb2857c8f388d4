"""always_compiled: jitted, and still compiled under jax.disable_jit."""

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core.compiled import always_compiled


def test_stays_compiled_where_jit_is_switched_off():
    traces = []

    def f(x, n):
        traces.append(type(x))  # runs at trace time only, once compiled
        return jnp.sin(x) * n

    compiled = always_compiled(f, static_argnums=1)
    x = jnp.linspace(0.0, 1.0, 5)
    with jax.disable_jit():
        first = compiled(x, 3)
        second = compiled(x + 1.0, 3)
    assert len(traces) == 1 and issubclass(traces[0], jax.core.Tracer)
    np.testing.assert_allclose(first, np.sin(np.linspace(0.0, 1.0, 5)) * 3, rtol=1e-6)
    np.testing.assert_allclose(second, np.sin(np.linspace(1.0, 2.0, 5)) * 3, rtol=1e-6)
    # the same function unwrapped runs its body at every call under disable_jit
    with jax.disable_jit():
        jax.jit(f, static_argnums=1)(x, 3)
    assert len(traces) == 2 and not issubclass(traces[1], jax.core.Tracer)


def test_differentiates_and_batches_like_the_function():
    f = always_compiled(lambda x: jnp.sum(x ** 3))
    x = jnp.array([[1.0, 2.0], [0.5, -1.0]])
    with jax.disable_jit():
        grads = jax.vmap(jax.grad(f))(x)
    np.testing.assert_allclose(grads, 3 * np.asarray(x) ** 2, rtol=1e-6)
