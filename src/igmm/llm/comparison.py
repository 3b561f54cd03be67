"""The language-model transcripts beside the GMM on the 3 x 4 (p, k) grid (`igmm reproduce llm-comparison`).

Both systems go through the same measures (:mod:`igmm.metrics`): final
number of silos S(T), P(one silo at T), the median consensus time t* with
censoring, mean stability and the silo-pattern proportions of
:func:`igmm.metrics.patterns.classify_patterns` (default thresholds).

GMM side: n = 30 agents on the line geometry (mu_k = k, sigma = 0.2), r = 5,
paper dynamics, p and k as in the transcripts: a sweep (the one pipeline of
``igmm sweep``, stored in ``OUT/gmm/``, resumable) of the (p, k) grid at
T = 200; the T = 80 column is the same runs read at t = 80 (the dynamics do
not depend on T, so a truncated run is a T = 80 run; with the project's
seeding it is even the identical run). The transcripts have 8 replicates per cell and
cannot have more; the GMM costs seconds, so it gets 100 replicates by default
to make its side of every difference nearly exact and leave the uncertainty
to the language-model side.

Censoring: a run that has not reached one silo by T has t* censored at T.
The median t* is the Kaplan-Meier median (the first t where the estimated
share of runs still split falls to 0.5 or below; midpoint of the flat part
when it equals 0.5 exactly, as R's ``survfit`` does, so that without
censoring it is the ordinary median). When fewer than half the runs reach
one silo it is not estimable and is reported as "> T".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igmm.llm.transcripts import TranscriptSet, load_transcripts
from igmm.metrics import consensus_time, kaplan_meier_median, n_silos, silo_sizes, stability

#: The (p, k) grid of the released transcripts.
GRID_P: tuple[float, ...] = (0.2, 0.5, 0.7)
GRID_K: tuple[int, ...] = (1, 5, 15, 25)
#: Steps of the transcripts.
LLM_STEPS = 80
#: Horizons at which the GMM is read (one simulation at the longest).
GMM_STEPS: tuple[int, ...] = (80, 200)
#: GMM replicates per (p, k) by default, and with ``quick=True``.
GMM_REPLICATES = 100
QUICK_GMM_REPLICATES = 4
#: Transcript replicates read with ``quick=True``.
QUICK_LLM_REPLICATES = 2
#: The GMM settings shared by every cell (EXPERIMENTS.md defaults).
GMM_BASE = {"n_agents": 30, "r": 5, "sigma": 0.2, "delta": 1.0, "geometry": "line", "dynamics": "paper"}
#: Smallest silo called large in :func:`two_large_silos`: 1/6 of the agents (5 of 30).
LARGE_SILO_SHARE = 1 / 6
#: Silo-pattern names in table order.
PATTERNS: tuple[str, ...] = ("consensus", "decaying", "stable", "unstable")


def switch_rate_while_split(ids: np.ndarray) -> float:
    """Share of agents changing ID per step, over the steps that start with two or more silos.

    ``1 - Stab(t)`` averaged over every (run, t) with S(t - 1) >= 2: how
    much the silos churn while there is more than one, whatever the run
    length and however long consensus then lasts (mean stability over the
    whole run mixes both). NaN when no step starts split.

    Parameters
    ----------
    ids : ndarray of int, shape (n_runs, n_steps + 1, n_agents)
    """
    split_before = n_silos(ids[:, :-1, :]) >= 2
    if not split_before.any():
        return float("nan")
    return float((1.0 - stability(ids))[split_before].mean())


def two_large_silos(ids: np.ndarray, share: float = LARGE_SILO_SHARE) -> dict[str, float]:
    """How long two large silos coexist, and how stable the agents are meanwhile.

    A descriptive trace of *unstable silos* (two or more large silos
    exchanging members), not a pattern classifier: a step t >= 1 counts when
    the second-largest silo holds at least ``share * n_agents`` agents.

    Parameters
    ----------
    ids : ndarray of int, shape (n_runs, n_steps + 1, n_agents)
    share : float
        Smallest silo counted as large, as a share of the agents.

    Returns
    -------
    dict
        ``steps_two_large``: mean number of such steps per run;
        ``stability_two_large``: mean Stab(t) over them (NaN when none).
    """
    ids = np.asarray(ids)
    sizes = np.sort(silo_sizes(ids), axis=-1)
    second = sizes[..., -2] if sizes.shape[-1] > 1 else np.zeros(sizes.shape[:-1], dtype=np.int64)
    two_large = second[:, 1:] >= share * ids.shape[-1]
    stab = stability(ids)
    return {"steps_two_large": float(two_large.sum(axis=1).mean()),
            "stability_two_large": float(stab[two_large].mean()) if two_large.any() else float("nan")}


def summarise(ids: np.ndarray) -> dict[str, float]:
    """The compared measures of one system at one (p, k).

    The project's one set of statistics (:func:`igmm.stats.run_statistics`
    of the runs table) plus two descriptive traces of churn.

    Parameters
    ----------
    ids : ndarray of int, shape (n_runs, n_steps + 1, n_agents)

    Returns
    -------
    dict
        The columns of :func:`igmm.stats.run_statistics` (``n_runs``,
        ``silos_final_mean``, ``silos_final_mean_se``, ``p_one_silo``,
        ``p_one_silo_se``, ``n_censored``, ``t_star_median``, ``n_steps``,
        ``mean_stability``, ``pattern_<name>``, ...), plus
        ``t_star_median_reached``, ``switch_rate_split``, ``steps_two_large``
        and ``stability_two_large``.
    """
    from igmm.stats import run_statistics
    from igmm.tables import runs_table

    ids = np.asarray(ids)
    summary = run_statistics(runs_table(ids))
    summary["t_star_median_reached"] = not np.isnan(summary["t_star_median"])
    summary["switch_rate_split"] = switch_rate_while_split(ids)
    return summary | two_large_silos(ids)


def gmm_sweep_values(n_replicates: int, seed: int, n_steps: int = max(GMM_STEPS)) -> dict:
    """The sweep SPEC of the GMM side: the (p, k) grid at the longest horizon, IDs kept."""
    return {"base": GMM_BASE | {"T": n_steps}, "grid": {"p": list(GRID_P), "k": list(GRID_K)},
            "replicates": n_replicates, "seed": seed, "chunk_size": n_replicates, "save_ids": True}


def gmm_trajectories(sweep_dir: str | os.PathLike) -> dict[tuple[float, int], np.ndarray]:
    """GMM ID trajectories of every (p, k) from the comparison's sweep folder, int16 (n_reps, n_steps + 1, 30)."""
    from igmm.pipeline import store
    from igmm.pipeline.spec import point_key

    return {(p, k): store.read_ids(sweep_dir, point_key({"p": p, "k": k})) for p in GRID_P for k in GRID_K}


def _summary_rows(p: float, k: int, llm_ids: np.ndarray | None, gmm_ids: np.ndarray) -> list[dict]:
    rows = []
    if llm_ids is not None and len(llm_ids):
        rows.append({"p": p, "k": k, "system": "language models"} | summarise(llm_ids))
    for horizon in GMM_STEPS:
        rows.append({"p": p, "k": k, "system": "GMM"} | summarise(gmm_ids[:, : horizon + 1]))
    return rows


def _format_value(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _format_median(row: pd.Series) -> str:
    if not row["t_star_median_reached"]:
        return f"> {int(row['n_steps'])} (censored)"
    return f"{row['t_star_median']:g}"


def _difference(gmm: pd.Series, llm: pd.Series, measure: str, se: str | None = None, digits: int = 2) -> str:
    """GMM minus language models, with the standard error of the difference when one is known."""
    value = gmm[measure] - llm[measure]
    if np.isnan(value):
        return "n/a"
    if se is None:
        return f"{value:+.{digits}f}"
    return f"{value:+.{digits}f} ± {np.hypot(gmm[se], llm[se]):.{digits}f}"


def _median_difference(gmm: pd.Series, llm: pd.Series) -> str:
    if gmm["t_star_median_reached"] and llm["t_star_median_reached"]:
        return f"{gmm['t_star_median'] - llm['t_star_median']:+g}"
    if llm["t_star_median_reached"]:
        return f"> {gmm['n_steps'] - llm['t_star_median']:+g}"
    return "n/a"


def cell_table(summary: pd.DataFrame, p: float, k: int) -> pd.DataFrame:
    """The table of one (p, k): one row per measure, a column per system and the differences.

    Parameters
    ----------
    summary : DataFrame
        Rows of :func:`summarise` with ``p, k, system`` (as in ``comparison.parquet``).

    Returns
    -------
    DataFrame of str
        Columns ``measure``, ``language models (T=80)``, ``GMM (T=80)``,
        ``GMM (T=200)``, ``GMM - LM (T=80)``, ``GMM - LM (T=200)``.
    """
    cell = summary[np.isclose(summary["p"], p) & (summary["k"] == k)]
    llm_rows = cell[cell["system"] == "language models"]
    llm = llm_rows.iloc[0] if len(llm_rows) else None
    gmm = {int(row["n_steps"]): row for _, row in cell[cell["system"] == "GMM"].iterrows()}
    columns = {f"language models (T={LLM_STEPS})": llm} | {f"GMM (T={h})": gmm[h] for h in GMM_STEPS}
    measures = {
        "runs": lambda r: f"{int(r['n_runs'])}",
        "final silos S(T), mean ± SE": lambda r: f"{r['silos_final_mean']:.2f} ± {_format_value(r['silos_final_mean_se'])}",
        "P(one silo at T)": lambda r: f"{r['p_one_silo']:.2f}",
        "runs censored (no consensus by T)": lambda r: f"{int(r['n_censored'])}",
        "median t* (Kaplan-Meier)": _format_median,
        "mean stability": lambda r: f"{r['mean_stability']:.3f}",
        "switches per agent and step while split": lambda r: _format_value(r["switch_rate_split"], 3),
        "steps with two silos of >= 5 agents": lambda r: f"{r['steps_two_large']:.1f}",
        "stability during those steps": lambda r: _format_value(r["stability_two_large"], 3),
    } | {f"pattern: {name}": (lambda r, n=name: _format_value(r[f"pattern_{n}"])) for name in PATTERNS}
    differences = {
        "final silos S(T), mean ± SE": lambda g, l: _difference(g, l, "silos_final_mean", "silos_final_mean_se"),
        "P(one silo at T)": lambda g, l: _difference(g, l, "p_one_silo", "p_one_silo_se"),
        "median t* (Kaplan-Meier)": _median_difference,
        "mean stability": lambda g, l: _difference(g, l, "mean_stability", digits=3),
        "switches per agent and step while split": lambda g, l: _difference(g, l, "switch_rate_split", digits=3),
        "steps with two silos of >= 5 agents": lambda g, l: _difference(g, l, "steps_two_large", digits=1),
        "stability during those steps": lambda g, l: _difference(g, l, "stability_two_large", digits=3),
    } | {f"pattern: {name}": (lambda g, l, n=name: _difference(g, l, f"pattern_{n}")) for name in PATTERNS}
    rows = []
    for measure, show in measures.items():
        row = {"measure": measure} | {name: ("n/a" if r is None else show(r)) for name, r in columns.items()}
        for horizon in GMM_STEPS:
            compare = differences.get(measure)
            row[f"GMM - LM (T={horizon})"] = compare(gmm[horizon], llm) if compare and llm is not None else ""
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame of str as a GitHub-flavoured Markdown table."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _grid_axes():
    """A 3 x 4 grid of panels sharing y, with fixed margins.

    Fixed margins rather than constrained layout: the layout engine took
    half the drawing time of these twelve-panel figures.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(GRID_P), len(GRID_K), figsize=(14, 8), sharey=True)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.07, top=0.91, wspace=0.08, hspace=0.3)
    return fig, axes


def plot_ids_grid(ids_by_cell: dict[tuple[float, int], np.ndarray], title: str):
    """ID trajectories of one run per (p, k), as a 3 x 4 grid of panels.

    Parameters
    ----------
    ids_by_cell : dict mapping (p, k) to ndarray of int, shape (n_steps + 1, n_agents)
    """
    from igmm.plots import plot_ids

    fig, axes = _grid_axes()
    for row, p in enumerate(GRID_P):
        for column, k in enumerate(GRID_K):
            ax = axes[row, column]
            ids = ids_by_cell.get((p, k))
            if ids is None:
                ax.text(0.5, 0.5, "no run", ha="center", transform=ax.transAxes)
            else:
                plot_ids(ids, ax=ax)
            ax.set_title(f"p = {p:g}, k = {k}", fontsize=9)
            ax.set_xlabel("step t" if row == len(GRID_P) - 1 else "")
            ax.set_ylabel("ID" if column == 0 else "")
    fig.suptitle(title)
    return fig


def plot_silos_over_time(llm: dict[tuple[float, int], np.ndarray], gmm: dict[tuple[float, int], np.ndarray],
                         level: float = 0.95):
    """Mean number of silos S(t) with a t interval band of the mean (``level``), both systems, one panel per (p, k)."""
    from igmm.stats import t_quantile

    fig, axes = _grid_axes()
    for row, p in enumerate(GRID_P):
        for column, k in enumerate(GRID_K):
            ax = axes[row, column]
            for name, ids, colour in (("language models", llm.get((p, k)), "tab:red"), ("GMM", gmm.get((p, k)), "tab:blue")):
                if ids is None or not len(ids):
                    continue
                silos = n_silos(ids).astype(np.float64)
                mean = silos.mean(axis=0)
                quantile = t_quantile(level, max(len(silos) - 1, 1))
                band = quantile * silos.std(axis=0, ddof=1) / np.sqrt(len(silos)) if len(silos) > 1 else 0 * mean
                ax.plot(mean, color=colour, lw=1.2, label=name)
                ax.fill_between(np.arange(len(mean)), mean - band, mean + band, color=colour, alpha=0.2, lw=0)
            ax.set_yscale("log")
            ax.set_title(f"p = {p:g}, k = {k}", fontsize=9)
            ax.set_xlabel("step t" if row == len(GRID_P) - 1 else "")
            ax.set_ylabel("silos S(t)" if column == 0 else "")
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"number of silos over time: mean over replicates with its {level:.0%} interval (band)")
    return fig


def plot_summary(summary: pd.DataFrame):
    """Final silos (top) and median t* (bottom) against k, one column per p, both systems.

    A median that is not reached (censored) is drawn as an open triangle at T.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(GRID_P), figsize=(12, 6.5), sharex=True, sharey="row", layout="constrained")
    styles = {("language models", LLM_STEPS): ("tab:red", "-", "o", -0.6), ("GMM", 80): ("tab:blue", "--", "s", 0.0),
              ("GMM", 200): ("tab:blue", "-", "s", 0.6)}
    for column, p in enumerate(GRID_P):
        ax_silos, ax_time = axes[0, column], axes[1, column]
        for (system, horizon), (colour, line, marker, shift) in styles.items():
            cell = summary[(summary["system"] == system) & (summary["n_steps"] == horizon) & np.isclose(summary["p"], p)]
            cell = cell.sort_values("k")
            if cell.empty:
                continue
            label = f"{system}, T = {horizon}"
            low = (cell["silos_final_mean"] - cell["silos_final_mean_lo"]).fillna(0)
            high = (cell["silos_final_mean_hi"] - cell["silos_final_mean"]).fillna(0)
            ax_silos.errorbar(cell["k"], cell["silos_final_mean"], yerr=[low, high],
                              ls=line, marker=marker, color=colour, ms=4, capsize=2, label=label)
            reached = cell["t_star_median_reached"].astype(bool)
            ax_time.plot(cell["k"][reached], cell["t_star_median"][reached], ls=line, marker=marker, color=colour, ms=4)
            # Censored medians side by side (shifted in k) so equal horizons do not hide each other.
            ax_time.plot(cell["k"][~reached] + shift, np.full((~reached).sum(), horizon), ls="", marker="^", ms=7,
                         markerfacecolor="none", color=colour)
        ax_silos.set(title=f"p = {p:g}", yscale="log")
        ax_time.set(xlabel="k", xticks=GRID_K)
    axes[0, 0].set_ylabel("final silos S(T), mean with 95% interval")
    axes[1, 0].set_ylabel("median t* (open triangle: > T, censored)")
    axes[0, 0].legend(frameon=False, fontsize=8)
    return fig


@dataclass(frozen=True)
class ComparisonResult:
    """What :func:`run_comparison` computed and wrote.

    Attributes
    ----------
    summary : DataFrame
        One row per (p, k, system, horizon): the columns of :func:`summarise`.
    tables : dict mapping (p, k) to DataFrame
        :func:`cell_table` of every grid point.
    problems : tuple
        Transcript input that was skipped.
    written : tuple of Path
    """

    summary: pd.DataFrame
    tables: dict
    problems: tuple
    written: tuple[Path, ...]


def _llm_by_cell(transcripts: TranscriptSet) -> dict[tuple[float, int], np.ndarray]:
    cells = {}
    for p in GRID_P:
        for k in GRID_K:
            runs = transcripts.select(p, k)
            if runs:
                cells[(p, k)] = np.stack([run.ids for run in runs])
    return cells


def _runs_frames(llm: dict, gmm: dict, sweep_dir: Path) -> pd.DataFrame:
    """Per-run table of both systems: the runs schema with keys ``system, T, p, k`` first.

    The GMM rows at every horizon carry the seeds of the sweep's runs they were read from.
    """
    from igmm.llm.analyze import SAMPLING_SEED_OFFSET
    from igmm.pipeline import store
    from igmm.pipeline.spec import point_key
    from igmm.tables import runs_table

    stored = store.read_runs(sweep_dir, with_values=False)
    frames = []
    for (p, k), ids in llm.items():
        frame = runs_table(ids)  # replicates 0 .. n - 1, the transcripts' V, sampled with seed 11 + V
        frame["seed"] = [str(SAMPLING_SEED_OFFSET + replicate) for replicate in frame["replicate"]]
        frames.append(frame.assign(system="language models", T=LLM_STEPS, p=p, k=k))
    for (p, k), ids in gmm.items():
        seeds = stored[stored["point"] == point_key({"p": p, "k": k})][["seed", "spawn_key"]].to_numpy()
        for horizon in GMM_STEPS:
            frame = runs_table(ids[:, : horizon + 1], point=point_key({"p": p, "k": k}))
            frame["seed"], frame["spawn_key"] = seeds[:, 0], seeds[:, 1]
            frames.append(frame.assign(system="GMM", T=horizon, p=p, k=k))
    frame = pd.concat(frames, ignore_index=True)
    keys = ["system", "T", "p", "k"]
    return frame[keys + [c for c in frame.columns if c not in keys]]


def run_comparison(transcripts_dir: str | os.PathLike | None = None,
                   out_dir: str | os.PathLike = "results/llm-comparison", quick: bool = False, seed: int = 0,
                   n_gmm_replicates: int | None = None, formats: Sequence[str] = ("png",),
                   executor=None) -> ComparisonResult:
    """Compare the transcripts with the GMM on the 3 x 4 grid and write tables and figures.

    Parameters
    ----------
    transcripts_dir : path-like, optional
        Default :func:`~igmm.llm.transcripts.default_transcripts_dir`.
    out_dir : path-like
    quick : bool
        Small run for tests: the first 2 transcript replicates per cell and
        4 GMM replicates (same grid, same horizons).
    seed : int
        Root seed of the GMM replicates (shared by all cells).
    n_gmm_replicates : int, optional
        Default 100 (4 when ``quick``).
    formats : sequence of str
    executor : igmm.pipeline.executors.Executor, optional
        Where the GMM sweep runs (default: a process pool on every core).

    Returns
    -------
    ComparisonResult

    Writes
    ------
    ``gmm/`` (the GMM side: a sweep folder, resumable), ``comparison.parquet`` (the summary), ``runs.parquet`` (every run of both
    systems), ``comparison.md`` (the 12 tables), ``problems.csv``,
    ``ids_grid_llm``, ``ids_grid_gmm_T80``, ``ids_grid_gmm_T200``,
    ``silos_over_time`` and ``summary`` figures.

    Raises
    ------
    FileNotFoundError
        When the transcripts directory does not exist.
    """
    from igmm import storage
    from igmm.llm.analyze import problems_table, write_csv
    from igmm.pipeline.runner import run_sweep
    from igmm.pipeline.spec import make_spec
    from igmm.plots import save_figure

    n_gmm_replicates = n_gmm_replicates or (QUICK_GMM_REPLICATES if quick else GMM_REPLICATES)
    keep = (lambda key: key.replicate < QUICK_LLM_REPLICATES) if quick else None
    transcripts = load_transcripts(transcripts_dir, keep=keep)
    llm = _llm_by_cell(transcripts)
    out_dir = Path(out_dir)
    outcome = run_sweep(make_spec(gmm_sweep_values(n_gmm_replicates, seed)), out_dir / "gmm", executor=executor,
                        progress=False)
    if outcome.failed:
        raise RuntimeError(f"the GMM sweep failed in {len(outcome.failed)} task(s); see {out_dir / 'gmm'}/failures.yaml")
    gmm = gmm_trajectories(out_dir / "gmm")
    summary = pd.DataFrame([row for (p, k), ids in gmm.items() for row in _summary_rows(p, k, llm.get((p, k)), ids)])
    tables = {(p, k): cell_table(summary, p, k) for p in GRID_P for k in GRID_K}

    written = [
        storage.write_parquet(summary, out_dir / "comparison.parquet"),
        storage.write_parquet(_runs_frames(llm, gmm, out_dir / "gmm"), out_dir / "runs.parquet"),
        storage.write_text(comparison_markdown(tables, n_gmm_replicates, seed), out_dir / "comparison.md"),
        write_csv(problems_table(transcripts.problems), out_dir / "problems.csv"),
    ]
    first_llm = {cell: ids[0] for cell, ids in llm.items()}
    written += save_figure(plot_ids_grid(first_llm, "language models: one run per (p, k), T = 80"),
                           out_dir / "ids_grid_llm", formats)
    for horizon in GMM_STEPS:
        first_gmm = {cell: ids[0, : horizon + 1] for cell, ids in gmm.items()}
        written += save_figure(plot_ids_grid(first_gmm, f"GMM: one run per (p, k), T = {horizon}"),
                               out_dir / f"ids_grid_gmm_T{horizon}", formats)
    written += save_figure(plot_silos_over_time(llm, gmm), out_dir / "silos_over_time", formats)
    written += save_figure(plot_summary(summary), out_dir / "summary", formats)
    return ComparisonResult(summary=summary, tables=tables, problems=transcripts.problems, written=tuple(written))


def comparison_markdown(tables: dict, n_gmm_replicates: int, seed: int) -> str:
    """All cell tables as one Markdown document."""
    parts = [f"# Language models vs GMM: the (p, k) grid\n\nGMM: {n_gmm_replicates} replicates per cell, "
             f"root seed {seed} (a sweep in gmm/); the T = 80 column is the T = 200 runs read at t = 80. Differences are "
             "GMM minus language models (± the standard error of the difference).\n"]
    for (p, k), table in tables.items():
        parts.append(f"## p = {p:g}, k = {k}\n\n{markdown_table(table)}\n")
    return "\n".join(parts)
