"""Perspective space: classical multidimensional scaling (CMDS) of a distance matrix (MODEL.md section 4)."""

from __future__ import annotations

import numpy as np


def cmds(distances: np.ndarray, n_dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS coordinates, batched over leading axes.

    B = -1/2 J D^2 J with J the centring matrix; the coordinates are the top
    ``n_dims`` eigenvectors of B scaled by the square roots of their
    eigenvalues. Negative eigenvalues (a non-Euclidean D) give zero
    coordinates. Each axis's sign is fixed so that its largest-magnitude
    entry is positive, so the result is deterministic.

    Parameters
    ----------
    distances : ndarray of float, shape (..., n, n)
        Symmetric distance matrices with zero diagonal.
    n_dims : int
        Output dimensions, 1 <= n_dims <= n.

    Returns
    -------
    ndarray of float64, shape (..., n, n_dims)
        Centred coordinates whose pairwise distances reproduce ``distances``
        when D is Euclidean of rank <= n_dims.

    Examples
    --------
    >>> points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    >>> x = cmds(d)
    >>> bool(np.allclose(np.linalg.norm(x[:, None] - x[None], axis=-1), d))
    True
    """
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim < 2 or distances.shape[-1] != distances.shape[-2]:
        raise ValueError(f"distances must have shape (..., n, n); got {distances.shape}")
    n = distances.shape[-1]
    if not 1 <= n_dims <= n:
        raise ValueError(f"n_dims: {n_dims!r} is not allowed: must satisfy 1 <= n_dims <= n = {n}")
    squared = distances**2
    # Double centring without forming J: subtract row and column means, add the grand mean.
    gram = -0.5 * (
        squared
        - squared.mean(axis=-1, keepdims=True)
        - squared.mean(axis=-2, keepdims=True)
        + squared.mean(axis=(-2, -1), keepdims=True)
    )
    gram = 0.5 * (gram + np.swapaxes(gram, -1, -2))  # exact symmetry for eigh
    eigenvalues, eigenvectors = np.linalg.eigh(gram)  # ascending
    top_values = eigenvalues[..., ::-1][..., :n_dims]
    top_vectors = eigenvectors[..., ::-1][..., :n_dims]
    top_vectors = top_vectors * _axis_signs(top_vectors)
    return top_vectors * np.sqrt(np.clip(top_values, 0.0, None))[..., None, :]


def _axis_signs(vectors: np.ndarray) -> np.ndarray:
    """+1 or -1 per column so the largest-magnitude entry of each column is positive; shape (..., 1, n_dims)."""
    largest = np.take_along_axis(vectors, np.argmax(np.abs(vectors), axis=-2)[..., None, :], axis=-2)
    return np.where(largest < 0, -1.0, 1.0)


def aligned_cmds(distances: np.ndarray, n_dims: int = 2) -> np.ndarray:
    """CMDS of a sequence of distance matrices, each frame aligned to the one before.

    CMDS fixes a configuration only up to rotation and reflection, so each
    frame is rotated onto the previous one (orthogonal Procrustes) to keep a
    row of panels comparable.

    Parameters
    ----------
    distances : ndarray of float, shape (n_frames, n, n)
    n_dims : int

    Returns
    -------
    ndarray of float64, shape (n_frames, n, n_dims)
    """
    from scipy.linalg import orthogonal_procrustes

    coordinates = cmds(distances, n_dims=n_dims)
    for index in range(1, len(coordinates)):
        rotation, _ = orthogonal_procrustes(coordinates[index], coordinates[index - 1])
        coordinates[index] = coordinates[index] @ rotation
    return coordinates
