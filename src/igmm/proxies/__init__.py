"""Cheap proxy models beside the paper GMM, each a registered dynamics on the NumPy backend.

Importing this package registers them (the dynamics registry imports it on
first use, so ``igmm run --dynamics voter``, YAML, sweeps and the Python API
know them without a plugin):

- classical opinion models on the GMM's dynamic k-nearest graph with
  mirroring: ``voter`` (:mod:`igmm.proxies.voter`), ``deffuant`` and
  ``hegselmann-krause`` (:mod:`igmm.proxies.bounded_confidence`);
- GMM variants that copy the language models' mechanism: ``answer-graph``,
  ``lm-exchange`` and ``one-entry`` (:mod:`igmm.proxies.gmm_variants`).

Every one keeps the trajectory contract (IDs of shape (n_reps, T + 1,
n_agents)), so the project's measures, sweeps and the calibration
(:mod:`igmm.calibrate`) treat them like the paper GMM.
"""

from igmm.proxies import bounded_confidence as _bounded_confidence  # noqa: F401
from igmm.proxies import gmm_variants as _gmm_variants  # noqa: F401
from igmm.proxies import voter as _voter  # noqa: F401

#: The proxy dynamics this package registers.
PROXY_DYNAMICS: tuple[str, ...] = ("voter", "deffuant", "hegselmann-krause", "answer-graph", "lm-exchange", "one-entry")

__all__ = ["PROXY_DYNAMICS"]
