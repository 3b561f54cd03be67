"""Optional compute backends (shell: NumPy is the default and needs nothing here).

Each backend module registers its steppers in :data:`igmm.registry.DYNAMICS`
when imported; :func:`igmm.dynamics.protocol.stepper_factory` imports it the
first time a configuration asks for the backend, and a missing extra is one
line naming its install command.

``numba``: :mod:`igmm.backends.numba_backend`, one compiled loop over replicates
and agents (CPU); ``pip install 'interacting-gmm[numba]'``.
``numba-parallel``: the same kernels with the replicates of a batch spread over
every core (same bits as ``numba``): for one large batch in ``igmm run``; a sweep's
process pool already keeps every core busy, so sweeps should use ``numba``.
``torch``: :mod:`igmm.backends.torch_backend`, the NumPy layout on tensors, CPU or CUDA.
``torch-batched``: :mod:`igmm.backends.torch_batched`, thousands of replicates in
lock-step on an accelerator with random numbers drawn on the device.
"""

from igmm.dynamics.protocol import BACKENDS

__all__ = ["BACKENDS", "BUILTIN_POLICIES", "diagonal_builtin_policies_only", "unsupported_reason"]

#: The database policies the compiled and tensor backends implement (a researcher's own needs numpy).
BUILTIN_POLICIES = ("farthest", "oldest", "random")


def unsupported_reason(geometry, rag_policy: str) -> str | None:
    """Why a numba or torch stepper cannot run this geometry and database policy, or None.

    Both implement diagonal covariances and the three built-in database policies only.
    """
    if geometry.variances is None:
        return "it supports diagonal covariances only (got full covariances); use backend numpy"
    if rag_policy not in BUILTIN_POLICIES:
        return (f"database policy {rag_policy!r} is not compiled into it (it knows "
                f"{', '.join(BUILTIN_POLICIES)}); use backend numpy")
    return None


def diagonal_builtin_policies_only(config) -> str | None:
    """:func:`unsupported_reason` of a configuration (the steppers' ``unsupported``, checked at validation)."""
    return unsupported_reason(config.build_geometry(), config.rag_policy)
