"""Colours and sizes shared by every figure and by the explorer: one colour per silo, journal widths."""

from __future__ import annotations

import numpy as np

#: Figure widths in inches: a journal's single column (89 mm) and full page width (183 mm).
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.2
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


def id_norm(n_labels: int):
    """The normalisation that maps ID c to the colour :func:`id_colours` gives it (for colour bars)."""
    from matplotlib.colors import Normalize

    return Normalize(vmin=0, vmax=max(int(n_labels) - 1, 1))


def id_colourbar(fig, ax, n_labels: int, label: str = "silo (ID)"):
    """A colour bar beside ``ax`` that keys the ID colours."""
    import matplotlib
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=id_norm(n_labels), cmap=matplotlib.colormaps[ID_CMAP])
    return fig.colorbar(mappable, ax=ax, label=label, fraction=0.05, pad=0.02)
