"""Our numbers next to the paper's reads: the comparison table and ``summary.md``."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from igmm.experiments.spec import ExperimentSpec, Read
from igmm.metrics.patterns import PATTERN_NAMES
from igmm.metrics.survival import kaplan_meier_median

#: Columns of ``reads.parquet``.
READ_COLUMNS = ("where", "measure", "read", "ours", "se", "n_runs", "difference", "z", "text")


def _mean(values: np.ndarray) -> tuple[float, float]:
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return float(values.mean()), float(se)


#: Statistic name -> function of one column's values (replicate order) -> (value, standard error).
STATISTICS: dict[str, Callable[[np.ndarray], tuple[float, float]]] = {
    "mean": _mean,
    "median": lambda v: (float(np.median(v)), np.nan),
    "min": lambda v: (float(v.min()), np.nan),
    "max": lambda v: (float(v.max()), np.nan),
}


def select_rows(runs: pd.DataFrame, where: dict) -> pd.DataFrame:
    """Rows of ``runs`` matching every ``column: value`` of ``where`` (floats compared with isclose)."""
    mask = np.ones(len(runs), dtype=bool)
    for column, value in where.items():
        if column not in runs:
            raise ValueError(f"read where: column {column!r} is not in the runs table; columns are {list(runs.columns)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and pd.api.types.is_numeric_dtype(runs[column]):
            mask &= np.isclose(runs[column].to_numpy(dtype=float), float(value))
        else:
            mask &= (runs[column] == value).to_numpy()
    return runs[mask].sort_values("replicate")


def evaluate(measure: str, rows: pd.DataFrame, example: int = 0) -> tuple[float, float]:
    """(value, standard error) of ``stat:column`` or ``share:PATTERN`` over ``rows``.

    ``example:column`` is the example run's value (replicate ``example``);
    ``median:t_star`` is the Kaplan-Meier median (runs not converged by T
    censored; NaN when it is not reached), as in every other summary.
    """
    stat, _, target = measure.partition(":")
    if stat == "example":
        if target not in rows:
            raise ValueError(f"measure {measure!r}: column {target!r} is not in the runs table")
        return float(rows[target].to_numpy(dtype=float)[example]), np.nan
    if stat == "median" and target == "t_star":
        return kaplan_meier_median(rows["t_star"].to_numpy(dtype=float), rows["converged"].to_numpy(dtype=bool)), np.nan
    if stat == "share":
        if target not in PATTERN_NAMES:
            raise ValueError(f"measure {measure!r}: pattern {target!r} is not allowed; choose from {PATTERN_NAMES}")
        share = float(np.mean(rows["pattern"] == target))
        return share, float(np.sqrt(share * (1 - share) / len(rows)))
    if stat not in STATISTICS:
        raise ValueError(f"measure {measure!r}: statistic {stat!r} is not allowed; choose from {sorted(STATISTICS)} or share")
    if target not in rows:
        raise ValueError(f"measure {measure!r}: column {target!r} is not in the runs table")
    return STATISTICS[stat](rows[target].to_numpy(dtype=float))


def compare_reads(reads: Sequence[Read], runs: pd.DataFrame, examples: dict | None = None) -> pd.DataFrame:
    """One row per read: our value, its standard error, the difference and difference / SE.

    Returns
    -------
    DataFrame with columns :data:`READ_COLUMNS`; ``z`` is NaN where there is no
    read value or no standard error (single example runs).
    """
    rows = []
    for read in reads:
        selected = select_rows(runs, read.where)
        example = _example_of(selected, examples)
        ours, se = evaluate(read.measure, selected, example) if len(selected) else (np.nan, np.nan)
        difference = ours - read.value if read.value is not None else np.nan
        z = difference / se if se and np.isfinite(se) and se > 0 else np.nan
        rows.append({
            "where": ", ".join(f"{k} = {v}" for k, v in read.where.items()) or "-",
            "measure": read.measure, "read": np.nan if read.value is None else read.value,
            "ours": ours, "se": se, "n_runs": len(selected), "difference": difference, "z": z, "text": read.text,
        })
    return pd.DataFrame(rows, columns=list(READ_COLUMNS))


def _example_of(rows: pd.DataFrame, examples: dict | None) -> int:
    """Position (in replicate order) of the example run among ``rows``: its point's chosen replicate."""
    if not examples or rows.empty or rows["point"].nunique() != 1:
        return 0
    return examples.get(rows["point"].iloc[0], 0)


def _fmt(value: float, digits: int = 2) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _median_text(median: float, runs: pd.DataFrame) -> str:
    """The Kaplan-Meier median t* of ``runs``, or "> T" when half or more of them never reached one silo."""
    return _fmt(median, 1) if np.isfinite(median) else f"> {int(runs['t_star'].max())}"


def variant_table(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per variant: runs, mean S(T) with its 95% interval, P(two or more silos at T) with its Wilson interval,
    median t* (Kaplan-Meier), mean stability, pattern shares (:func:`igmm.stats.run_statistics`)."""
    from igmm.stats import run_statistics

    groups = runs.groupby(list(keys), sort=False) if keys else [((), runs)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        stats = run_statistics(group)
        split, split_lo, split_hi = 1 - stats["p_one_silo"], 1 - stats["p_one_silo_hi"], 1 - stats["p_one_silo_lo"]
        row = dict(zip(keys, key)) | {
            "runs": stats["n_runs"],
            "S(T) [95% CI]": f"{stats['silos_final_mean']:.2f} [{_fmt(stats['silos_final_mean_lo'])}, "
                              f"{_fmt(stats['silos_final_mean_hi'])}]",
            "P(>= 2 silos at T) [95% CI]": f"{split:.2f} [{split_lo:.2f}, {split_hi:.2f}]",
            "median t*": _median_text(stats["t_star_median"], group),
            "mean stability": f"{stats['mean_stability']:.3f}",
        }
        row |= {name: f"{stats[f'pattern_{name}']:.2f}" for name in PATTERN_NAMES}
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no extra dependency)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def reads_markdown(reads: pd.DataFrame) -> str:
    """The reads table for ``summary.md``."""
    shown = pd.DataFrame({
        "where": reads["where"], "measure": reads["measure"],
        "paper (read)": [_fmt(v) or "(words)" for v in reads["read"]],
        "ours": [_fmt(v, 3) for v in reads["ours"]], "± SE": [_fmt(v, 3) for v in reads["se"]],
        "difference": [_fmt(v, 2) for v in reads["difference"]], "diff / SE": [_fmt(v, 1) for v in reads["z"]],
        "note": reads["text"],
    })
    return markdown(shown)


def summary_markdown(spec: ExperimentSpec, runs: pd.DataFrame, reads: pd.DataFrame, quick: bool, seed: int,
                     seconds: float, variants: Sequence | None = None) -> str:
    """``summary.md``: its real size, our numbers per variant, how the example runs were chosen, and the reads."""
    keys = [k for k in spec.variant_keys() if k in runs]
    size = (f"{'quick (reduced, for tests)' if quick else 'full size'}: {spec.replicates} replicate(s) per variant, "
            f"{len(spec.variant_overrides())} variant(s); base {spec.base}; root seed {seed}; {seconds:.1f} s")
    lines = [
        f"# {spec.name}: {spec.title}", "", spec.description.strip(), "",
        f"Version: {size}.", "",
        "## Our numbers per variant", "",
        "Intervals are 95%: a t interval for the mean, a Wilson interval for proportions. The median t* is the "
        "Kaplan-Meier median with runs not converged by T censored (\"> T\" when it is not reached).", "",
        markdown(variant_table(runs, keys)), "",
    ]
    if variants and any(v.example_note for v in variants):
        lines += ["## Example runs drawn", ""]
        lines += [f"- {', '.join(f'{k} = {val}' for k, val in v.keys.items()) or 'the run drawn'}: {v.example_note}"
                  for v in variants]
        lines.append("")
    lines += [
        "## Beside the paper's reads", "",
        "`example` is the run drawn in the figure; `mean` has a standard error; "
        "diff / SE is the difference in standard errors (blank for single runs).", "",
        reads_markdown(reads) if len(reads) else "(no reads for this experiment)", "",
    ]
    return "\n".join(lines)
