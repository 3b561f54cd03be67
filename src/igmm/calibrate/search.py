"""The search (Optuna), one fit per set of training cells, and the bootstrap uncertainty of a fit.

**Design, then refinement.** Every fit starts from the same *design*: a
scrambled Sobol sequence of candidates (Optuna's ``QMCSampler``; values of
categorical parameters drawn independently), each simulated once on every
target cell. The design does not look at the target, so the folds of a
leave-one-cell-out study share it without leaking the held-out cell into any
fit. Each fit then adds the design's losses *on its own training cells* to a
fresh Optuna study (TPE, seeded) and asks it for ``refine`` more candidates,
simulated on the training cells only. A candidate's loss is the smallest
over the time-scale grid (read from the same simulations): the scale is
profiled, not searched. Every sampler is seeded and every loss is a
deterministic function of cached simulations, so a rerun proposes the same
candidates and finds them in the cache.

**Uncertainty: bootstrap over the target's runs.** Each bootstrap draw
resamples the target's runs within every cell, recomputes its statistics and
picks the best of the fit's stored (candidate, scale) pairs again: no new
simulation. The spread of the chosen values is the parameter's uncertainty
(2.5 and 97.5 percentiles; for a categorical value the share of draws that
chose the best). It covers the target's sampling noise, the larger one
(8 runs per cell against the proxy's 16 or more); the proxy's own Monte
Carlo noise and the grid's resolution are not in it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from igmm.calibrate.engine import Candidate, Simulator, loss_table, resampled_target


def require_optuna():
    """Import Optuna, quiet; a missing extra names its install command."""
    try:
        import optuna
    except ImportError:
        from igmm.calibrate import INSTALL

        raise ImportError(f"igmm calibrate needs Optuna: {INSTALL}") from None
    return optuna


def _quiet_optuna():
    optuna = require_optuna()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*independent sampl.*")
    warnings.filterwarnings("ignore", message=".*QMCSampler.*")
    return optuna


def design_params(distributions: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` candidates of a scrambled Sobol design over the distributions (Optuna's QMCSampler)."""
    optuna = _quiet_optuna()
    if not distributions:
        return [{}]
    study = optuna.create_study(sampler=optuna.samplers.QMCSampler(
        qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False,
        warn_asynchronous_seeding=False, independent_sampler=optuna.samplers.RandomSampler(seed=seed)))
    found = []
    for _ in range(n):
        trial = study.ask(distributions)
        found.append(dict(trial.params))
        study.tell(trial, 0.0)
    return found


@dataclass
class Fit:
    """A fit on some training cells.

    Attributes
    ----------
    cells : list of int
        Training cells (indices into the target's cells).
    candidates : list of Candidate
        Design first, then refinement, in order.
    losses : ndarray of float64, shape (n_candidates, n_scales)
        Mean loss over the training cells.
    origins : list of str
        ``design`` or ``refine`` per candidate.
    """

    cells: list[int]
    candidates: list[Candidate]
    losses: np.ndarray
    origins: list[str] = field(default_factory=list)

    @property
    def best(self) -> tuple[int, int]:
        """(candidate index, scale index) of the smallest loss."""
        flat = int(np.nanargmin(self.losses))
        return divmod(flat, self.losses.shape[1])

    def best_params(self, scales: np.ndarray) -> dict[str, Any]:
        """The best candidate's values plus its time scale (``time_scale``)."""
        index, scale = self.best
        return dict(self.candidates[index].params) | {"time_scale": float(scales[scale])}

    def trials_table(self, scales: np.ndarray) -> pd.DataFrame:
        """One row per candidate: origin, its values, best scale and loss."""
        rows = []
        for index, (candidate, origin) in enumerate(zip(self.candidates, self.origins)):
            scale = int(np.nanargmin(self.losses[index]))
            rows.append({"trial": index, "origin": origin, **candidate.params, "time_scale": float(scales[scale]),
                         "loss": float(self.losses[index, scale]), "sims": candidate.key})
        return pd.DataFrame(rows)


def fit(simulator: Simulator, cells: Sequence[int], design: list[dict[str, Any]], n_refine: int,
        seed: int, on_trial=None) -> Fit:
    """Fit on ``cells``: the design's losses there, then ``n_refine`` TPE candidates (module docstring).

    Parameters
    ----------
    simulator : Simulator
    cells : sequence of int
        Training cells.
    design : list of dict
        The shared design's candidates (simulated on every cell by the caller or here).
    n_refine : int
    seed : int
        Seed of the TPE sampler.
    on_trial : callable, optional
        Called with the number of candidates done (progress).
    """
    optuna = _quiet_optuna()
    space, target = simulator.space, simulator.target
    cells = list(cells)
    distributions = space.distributions()
    all_cells = list(range(len(target.keys)))

    def losses_of(candidate: Candidate) -> np.ndarray:
        return loss_table(candidate.values, candidate.ses, target.values, target.ses, target.weights, cells,
                          space.measures.loss)

    candidates, losses, origins = [], [], []
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=0, multivariate=True)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    for params in design:
        candidate = simulator.candidate(params, all_cells)
        row = losses_of(candidate)
        candidates.append(candidate), losses.append(row), origins.append("design")
        if distributions:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                      value=float(np.nanmin(row))))
        if on_trial:
            on_trial(len(candidates))
    seen = {simulator.key(c.params) + repr(sorted(c.params.items())) for c in candidates}
    for _ in range(n_refine if distributions else 0):
        trial = study.ask(distributions)
        params = dict(trial.params)
        candidate = simulator.candidate(params, cells)
        row = losses_of(candidate)
        study.tell(trial, float(np.nanmin(row)))
        name = simulator.key(params) + repr(sorted(params.items()))
        if name not in seen:
            seen.add(name)
            candidates.append(candidate), losses.append(row), origins.append("refine")
        if on_trial:
            on_trial(len(candidates))
    return Fit(cells=cells, candidates=candidates, losses=np.array(losses), origins=origins)


def bootstrap(fit_result: Fit, simulator: Simulator, n_boot: int, seed: int) -> pd.DataFrame:
    """Refit on resampled targets, choosing among the fit's stored (candidate, scale) pairs.

    Returns
    -------
    DataFrame
        One row per draw: ``draw``, ``candidate``, ``loss`` and every parameter value with ``time_scale``.
    """
    target, space, scales = simulator.target, simulator.space, simulator.scales
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB007,)))
    values = np.stack([c.values for c in fit_result.candidates])  # (n_candidates, n_scales, n_cells, n_measures)
    ses = np.stack([c.ses for c in fit_result.candidates])
    rows = []
    for draw in range(n_boot):
        t_values, t_ses = resampled_target(target, rng)
        losses = loss_table(values, ses, t_values, t_ses, target.weights, fit_result.cells, space.measures.loss)
        flat = int(np.nanargmin(losses))
        index, scale = divmod(flat, losses.shape[1])
        rows.append({"draw": draw, "candidate": index, "loss": float(losses[index, scale]),
                     **fit_result.candidates[index].params, "time_scale": float(scales[scale])})
    return pd.DataFrame(rows)


def parameter_uncertainty(best: dict[str, Any], draws: pd.DataFrame,
                          resolution: dict[str, float] | None = None) -> pd.DataFrame:
    """Best value, bootstrap SE and 95% percentile interval of every fitted value.

    Parameters
    ----------
    best : dict
    draws : DataFrame
        :func:`bootstrap` rows.
    resolution : dict, optional
        Half the grid step of values searched on a grid (``step`` in the
        space, the time-scale grid): the interval is widened by it, since
        the search cannot tell values closer than that apart.

    Categorical values: ``low``/``high`` empty, ``share_of_draws`` the share of draws choosing the best value.
    """
    resolution = resolution or {}
    rows = []
    for name, value in best.items():
        column = draws[name] if name in draws else pd.Series([], dtype=object)
        if isinstance(value, (bool, str)) or not np.issubdtype(np.asarray(column).dtype, np.number):
            share = float(np.mean(column.astype(str) == str(value))) if len(column) else float("nan")
            rows.append({"parameter": name, "best": value, "se": float("nan"), "low": float("nan"),
                         "high": float("nan"), "share_of_draws": share})
            continue
        numbers = column.to_numpy(dtype=float)
        half = resolution.get(name, 0.0)
        rows.append({"parameter": name, "best": value,
                     "se": float(np.std(numbers, ddof=1)) if len(numbers) > 1 else float("nan"),
                     "low": float(np.percentile(numbers, 2.5)) - half if len(numbers) else float("nan"),
                     "high": float(np.percentile(numbers, 97.5)) + half if len(numbers) else float("nan"),
                     "share_of_draws": float(np.mean(np.isclose(numbers, float(value)))) if len(numbers) else float("nan")})
    return pd.DataFrame(rows)
