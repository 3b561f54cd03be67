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


def _example(values: np.ndarray) -> tuple[float, float]:
    return float(values[0]), np.nan


#: Statistic name -> function of one column's values (replicate order) -> (value, standard error).
STATISTICS: dict[str, Callable[[np.ndarray], tuple[float, float]]] = {
    "mean": _mean,
    "median": lambda v: (float(np.median(v)), np.nan),
    "min": lambda v: (float(v.min()), np.nan),
    "max": lambda v: (float(v.max()), np.nan),
    "example": _example,
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


def evaluate(measure: str, rows: pd.DataFrame) -> tuple[float, float]:
    """(value, standard error) of ``stat:column`` or ``share:PATTERN`` over ``rows``."""
    stat, _, target = measure.partition(":")
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


def compare_reads(reads: Sequence[Read], runs: pd.DataFrame) -> pd.DataFrame:
    """One row per read: our value, its standard error, the difference and difference / SE.

    Returns
    -------
    DataFrame with columns :data:`READ_COLUMNS`; ``z`` is NaN where there is no
    read value or no standard error (single example runs).
    """
    rows = []
    for read in reads:
        selected = select_rows(runs, read.where)
        ours, se = evaluate(read.measure, selected) if len(selected) else (np.nan, np.nan)
        difference = ours - read.value if read.value is not None else np.nan
        z = difference / se if se and np.isfinite(se) and se > 0 else np.nan
        rows.append({
            "where": ", ".join(f"{k} = {v}" for k, v in read.where.items()) or "-",
            "measure": read.measure, "read": np.nan if read.value is None else read.value,
            "ours": ours, "se": se, "n_runs": len(selected), "difference": difference, "z": z, "text": read.text,
        })
    return pd.DataFrame(rows, columns=list(READ_COLUMNS))


def _fmt(value: float, digits: int = 2) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _median_text(runs: pd.DataFrame) -> str:
    """Kaplan-Meier median t*, or "> T" when half or more of the runs never reached one silo."""
    median = kaplan_meier_median(runs["t_star"].to_numpy(), runs["converged"].to_numpy())
    return _fmt(median, 1) if np.isfinite(median) else f"> {int(runs['t_star'].max())}"


def variant_table(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per variant: runs, mean S(T) with SE, P(one silo at T), median t*, mean stability, pattern shares."""
    groups = runs.groupby(list(keys), sort=False) if keys else [((), runs)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        silos, silos_se = _mean(group["n_silos_final"].to_numpy(dtype=float))
        row = dict(zip(keys, key)) | {
            "runs": len(group),
            "S(T)": f"{silos:.2f} ± {_fmt(silos_se)}",
            "P(one silo)": f"{group['converged'].mean():.2f}",
            "median t*": _median_text(group),
            "mean stability": f"{group['mean_stability'].mean():.3f}",
        }
        row |= {name: f"{np.mean(group['pattern'] == name):.2f}" for name in PATTERN_NAMES}
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
                     seconds: float) -> str:
    """``summary.md``: settings, our numbers per variant, and the reads beside ours."""
    keys = [k for k in spec.variant_keys() if k in runs]
    lines = [
        f"# {spec.name}: {spec.title}", "", spec.description.strip(), "",
        f"Version: {'quick (reduced, for tests)' if quick else 'full size'}; root seed {seed}; "
        f"{spec.replicates} replicate(s) per variant; base {spec.base}; {seconds:.1f} s.", "",
        "## Our numbers per variant", "", markdown(variant_table(runs, keys)), "",
        "## Beside the paper's reads", "",
        "`example` is replicate 0 (the run in the figure); `mean` has a standard error; "
        "diff / SE is the difference in standard errors (blank for single runs).", "",
        reads_markdown(reads) if len(reads) else "(no reads for this experiment)", "",
    ]
    return "\n".join(lines)
