"""Optional compute backends for the paper dynamics (shell: numpy is the default and needs nothing here).

``torch``: :mod:`igmm.backends.torch_backend`, CPU or CUDA, imported lazily;
install with ``pip install torch``.
``numba``: :mod:`igmm.backends.numba_backend`, one compiled loop over replicates
and agents (CPU), imported lazily; install with ``pip install 'interacting-gmm[numba]'``.
``numba-parallel``: the same kernels with the replicates of a batch spread over
every core (same bits as ``numba``): for one large batch in ``igmm run``; a sweep's
process pool already keeps every core busy, so sweeps should use ``numba``.
The core's :func:`igmm.dynamics.run` takes
the stepper class; :func:`run` here resolves a backend name to it.
"""

from __future__ import annotations

BACKENDS = ("numpy", "torch", "numba", "numba-parallel")


def stepper_for(backend: str):
    """The ``backend`` argument of :func:`igmm.dynamics.run` for a backend name."""
    if backend == "numpy":
        return "numpy"
    if backend == "torch":
        from igmm.backends.torch_backend import TorchStepper

        return TorchStepper
    if backend == "numba":
        from igmm.backends.numba_backend import NumbaStepper

        return NumbaStepper
    if backend == "numba-parallel":
        from igmm.backends.numba_backend import ParallelNumbaStepper

        return ParallelNumbaStepper
    raise ValueError(f"backend: {backend!r} is not allowed: choose one of {', '.join(BACKENDS)}")


def run(params, rngs, n_steps: int, backend: str = "numpy", **kwargs):
    """:func:`igmm.dynamics.run` with the named backend (one of :data:`BACKENDS`)."""
    from igmm.dynamics import run as core_run

    return core_run(params, rngs, n_steps, backend=stepper_for(backend), **kwargs)
