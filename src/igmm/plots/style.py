"""What every figure shares: one colour per silo, journal widths, titles that fit, labelled bands.

The rules (docs/explorer.md, "Paper-ready figures"): a band always says what
it is (a 95% interval by default; the paper's plus/minus 5 SE on request);
consensus times of runs that did not converge are never averaged as if they
had (Kaplan-Meier medians, censored runs marked); titles are wrapped to the
figure, never clipped; where colour carries meaning a key says what (the ID
colour bar); a silo has the same colour in the ID, silo-size, perspective and
explorer panels; single-run panels say which replicate; figures are written as
vector PDF and PNG at a journal's column widths.
"""

from __future__ import annotations

import textwrap

import numpy as np

from igmm.stats import LEVEL  # noqa: F401  (the default coverage of every band: one value for tables and figures)

#: Figure widths in inches: a journal's single column (89 mm) and full page width (183 mm).
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.2
#: Resolution of PNG files (PDF files are vector).
PNG_DPI = 200
#: Formats every figure is written in.
FORMATS = ("png", "pdf")
#: The colour map of IDs (silos): the same in the ID, silo-size, perspective and graph panels.
ID_CMAP = "viridis"


def id_colours(n_labels: int) -> np.ndarray:
    """RGBA colour of every ID 0 .. n_labels - 1, shape (n_labels, 4): ID c is ``ID_CMAP(c / (n_labels - 1))``.

    Examples
    --------
    >>> id_colours(3).shape
    (3, 4)
    """
    import matplotlib

    n_labels = max(int(n_labels), 1)
    return matplotlib.colormaps[ID_CMAP](np.linspace(0.0, 1.0, n_labels))


def id_colourbar(fig, ax, n_labels: int, label: str = "silo (ID)"):
    """A colour bar beside ``ax`` (an Axes or a list of them) that keys the ID colours of :func:`id_colours`."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, Normalize

    n_labels = max(int(n_labels), 1)
    if n_labels <= 12:  # few IDs: one swatch per ID, ticks on whole numbers
        cmap = matplotlib.colors.ListedColormap(id_colours(n_labels))
        norm = BoundaryNorm(np.arange(n_labels + 1) - 0.5, n_labels)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label, fraction=0.05, pad=0.02,
                           ticks=np.arange(n_labels))
    else:
        norm = Normalize(vmin=0, vmax=n_labels - 1)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=matplotlib.colormaps[ID_CMAP]), ax=ax, label=label,
                           fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    return bar


#: Stands in for the spaces of " = " and " / " while wrapping, so that "T = 100" or "delta / sigma" never
#: breaks across lines.
_GLUE = "\u00a0"


def wrap(text: str, width_inches: float, fontsize: float = 10.0) -> str:
    """``text`` broken into lines that fit ``width_inches`` at ``fontsize`` points (about 0.55 em per character).

    Lines break between words, never inside ``key = value`` or ``a / b``.
    """
    characters = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    lines = (line.replace(" = ", f"{_GLUE}={_GLUE}").replace(" / ", f"{_GLUE}/{_GLUE}")
             for line in str(text).splitlines() or [""])
    return "\n".join(textwrap.fill(line, characters) for line in lines).replace(_GLUE, " ")


def axes_width(ax) -> float:
    """The width in inches an axes will have: its share of the figure under a layout engine (which sets
    positions only when drawing), else its current position."""
    spec = ax.get_subplotspec()
    if spec is not None and ax.figure.get_layout_engine() is not None:
        n_cols = spec.get_geometry()[1]
        span = spec.colspan.stop - spec.colspan.start
        return ax.figure.get_figwidth() * 0.88 * span / n_cols  # ~12% go to tick labels and padding
    return ax.get_position().width * ax.figure.get_figwidth()


def set_title(ax, text: str | None, fontsize: float = 9.0) -> None:
    """An axes title wrapped to the axes' width, so it is never clipped."""
    if not text:
        return
    ax.set_title(wrap(text, axes_width(ax), fontsize), fontsize=fontsize)


def set_suptitle(fig, text: str | None, fontsize: float = 10.0) -> None:
    """A figure title wrapped to the figure's width."""
    if text:
        fig.suptitle(wrap(text, fig.get_figwidth() * 0.95, fontsize), fontsize=fontsize)


def band_label(level: float = LEVEL, band_se: float | None = None, what: str = "mean") -> str:
    """The legend entry of a band: ``95% interval of the mean`` or ``mean ± 5 SE``."""
    if band_se is not None:
        return f"{what} ± {band_se:g} SE"
    return f"{level:.0%} interval of the {what}"
