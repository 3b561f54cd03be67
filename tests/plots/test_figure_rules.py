"""The paper-ready figure rules: labelled bands, censoring, titles inside the figure, colour keys, one colour per silo,
journal widths, PDF and PNG."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from igmm.api import simulate  # noqa: E402
from igmm.plots.perspective import plot_perspective  # noqa: E402
from igmm.plots.phase import plot_line, plot_phase  # noqa: E402
from igmm.plots.style import DOUBLE_COLUMN, SINGLE_COLUMN, id_colours  # noqa: E402
from igmm.plots.summaries import (  # noqa: E402
    median_interval,
    plot_replicate_summary,
    plot_trajectory_grid,
    plot_trajectory_panels,
)
from igmm.plots.trajectories import (  # noqa: E402
    plot_ids,
    plot_silo_sizes,
    plot_silos_across_replicates,
    write_run_figures,
)

LONG = "a deliberately long title that names p = 0.4, k = 29, r = 5, the paper's dynamics and replicate 3 of 20 " * 2


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def result():
    return simulate({"p": 0.4, "T": 40}, replicates=6, seed=3, keep_weights=True)


def _legend_texts(fig) -> list[str]:
    texts = []
    for ax in fig.axes:
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts + [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_bands_say_what_they_are_and_the_authors_5_se_stays_available(result):
    runs = pd.DataFrame({"x": np.repeat([1, 2, 3], 10), "y": np.random.default_rng(0).normal(size=30)})
    assert "95% interval of the mean" in _legend_texts(plot_replicate_summary(runs, "x", "y"))
    assert "mean ± 5 SE" in _legend_texts(plot_replicate_summary(runs, "x", "y", band_se=5))
    assert "95% interval of the mean" in _legend_texts(plot_silos_across_replicates(result.ids))
    assert "mean ± 5 SE" in _legend_texts(plot_silos_across_replicates(result.ids, band_se=5))
    summary = pd.DataFrame({"k": [1, 2], "p_one_silo": [0.2, 0.6], "p_one_silo_lo": [0.1, 0.4],
                            "p_one_silo_hi": [0.4, 0.8]})
    assert "95% interval" in _legend_texts(plot_line(summary, "k", "p_one_silo"))


def test_consensus_times_of_runs_that_did_not_converge_are_never_averaged():
    # x = 1: 4 runs converge at 10, 6 are censored at T = 100 -> the median lies beyond T (the mean would say 64).
    # x = 2: all converge at 20 .. 29 -> median 24.5.
    runs = pd.DataFrame({"x": [1] * 10 + [2] * 10,
                         "t_star": [10] * 4 + [100] * 6 + list(range(20, 30)),
                         "converged": [True] * 4 + [False] * 6 + [True] * 10})
    fig = plot_replicate_summary(runs, "x", "t_star")
    labels = _legend_texts(fig)
    assert "did not converge by T (censored)" in labels and "median t* (Kaplan-Meier)" in labels
    assert not any(label.startswith("mean") for label in labels)
    median_line = [line for line in fig.axes[0].lines if line.get_label() == "median t* (Kaplan-Meier)"][0]
    ys = median_line.get_ydata()
    assert np.isnan(ys[0]) and ys[1] == pytest.approx(24.5)
    beyond = [line for line in fig.axes[0].lines if line.get_label().startswith("median > T")][0]
    assert list(beyond.get_ydata()) == [100]


def test_median_interval_is_the_order_statistic_interval():
    times = np.arange(1, 21, dtype=float)
    median, low, high = median_interval(times, np.ones(20, bool))
    # n = 20: Binomial(20, 1/2) puts 2.1% below rank 6, so the 95% interval is [t(6), t(15)].
    assert (median, low, high) == (10.5, 6.0, 15.0)
    median, low, high = median_interval(times, times < 8)   # 13 of 20 censored: median beyond T
    assert np.isnan(median) and low == 6.0 and high == np.inf


def _outside(fig) -> list[str]:
    """Drawn texts whose box reaches outside the figure (they would be clipped in the file)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    drawn = [t for t in fig.texts if t.get_text().strip()]
    for ax in fig.axes:
        drawn += [ax.title, ax.xaxis.label, ax.yaxis.label]
        drawn += [tick.label1 for axis in (ax.xaxis, ax.yaxis) for tick in axis.get_major_ticks()
                  if axis.get_view_interval().min() - 1e-9 <= tick.get_loc() <= axis.get_view_interval().max() + 1e-9]
    drawn = [t for t in drawn if t.get_visible() and t.get_text().strip()]
    return [t.get_text()[:40] for t in drawn
            if (extent := t.get_window_extent(renderer)).x0 < box.x0 - 1 or extent.x1 > box.x1 + 1
            or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1]


def test_no_title_is_clipped(result):
    ids = result.ids[0]
    figures = [
        plot_ids(ids, title=LONG), plot_silo_sizes(ids, 30, title=LONG), plot_silos_across_replicates(result.ids, title=LONG),
        plot_trajectory_panels([ids, result.ids[1], result.ids[2], result.ids[3]], [LONG] * 4),
        plot_perspective(result.weights[0], ids, [0, 10, 20, 40], title=LONG),
        plot_replicate_summary(pd.DataFrame({"x": [1, 1, 2, 2], "y": [1.0, 2, 3, 4]}), "x", "y", title=LONG),
        plot_phase(pd.DataFrame({"k": [1, 2, 1, 2], "p": [0.1, 0.1, 0.5, 0.5], "v": [1.0, 2, 3, 4]}), "k", "p", "v",
                   title=LONG),
    ]
    for fig in figures:
        assert _outside(fig) == []


def test_titles_wrap_between_words_never_inside_key_equals_value_or_a_ratio():
    """The demo figure once broke "T = 100" into "T =" and "100" on two lines."""
    from igmm.plots.style import wrap

    text = "dynamics = early-draft, T = 100\nreplicate 12: first unstable; time against delta / sigma"
    for width in (1.2, 1.55, 2.0, 3.0):
        lines = wrap(text, width, 7.5).splitlines()
        joined = " ".join(" ".join(lines).split()).replace("- ", "-")  # a long word may break after a hyphen
        assert joined == " ".join(text.split())  # nothing lost or added
        assert not any(line[-1:] in "=/" or line[:1] in "=/" for line in lines), lines
        assert "\u00a0" not in "".join(lines)


def test_a_silo_has_one_colour_in_the_id_and_silo_size_panels_and_a_key(result):
    ids = result.ids[0]
    fig_ids, fig_sizes = plot_ids(ids, n_labels=30), plot_silo_sizes(ids, 30)
    colours = id_colours(30)
    segments = fig_ids.axes[0].collections[0]
    # Segment s of agent a ends at step s // n_agents + 1; its colour is that of the agent's ID there.
    end_ids = ids[1:].ravel()
    np.testing.assert_allclose(segments.get_colors()[:, :3], colours[end_ids][:, :3])  # alpha 0.85 for overlaps
    for line in fig_sizes.axes[0].lines:
        np.testing.assert_allclose(matplotlib.colors.to_rgba(line.get_color()), colours[int(line.get_label())])
    for fig in (fig_ids, fig_sizes, plot_perspective(result.weights[0], ids, [0, 40])):
        assert any(ax.get_ylabel() == "silo (ID)" for ax in fig.axes), "a colour bar keys the silo colours"
    grid = plot_trajectory_grid([[ids, result.ids[1]]], ["p = 0.4"], ["a", "b"])
    assert sum(ax.get_ylabel() == "silo (ID)" for ax in grid.axes) == 1


def test_run_figures_are_pdf_and_png_at_journal_widths(result, tmp_path):
    written = write_run_figures(result.ids[0], tmp_path, n_labels=30, title="replicate 0 of 6", all_ids=result.ids)
    assert sorted(p.name for p in written) == sorted(f"{name}.{fmt}" for name in
                                                    ("ids", "silo_sizes", "stability", "replicates")
                                                    for fmt in ("png", "pdf"))
    assert all(p.stat().st_size > 0 for p in written)
    assert (tmp_path / "ids.pdf").read_bytes().startswith(b"%PDF")
    widths = {round(fig.get_figwidth(), 2) for fig in (
        plot_ids(result.ids[0]), plot_silos_across_replicates(result.ids),
        plot_trajectory_panels([result.ids[0]], ["replicate 0"]), plot_perspective(result.weights[0], result.ids[0], [0]))}
    assert widths <= {SINGLE_COLUMN, DOUBLE_COLUMN}
