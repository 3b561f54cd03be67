"""Classical MDS: exact for Euclidean distances, batched, deterministic."""

import numpy as np
import pytest

from igmm.metrics import cmds


def _distances(points):
    return np.linalg.norm(points[..., :, None, :] - points[..., None, :, :], axis=-1)


def test_recovers_euclidean_distances_of_planar_points():
    points = np.random.default_rng(3).normal(size=(12, 2))
    coords = cmds(_distances(points), n_dims=2)
    assert coords.shape == (12, 2)
    np.testing.assert_allclose(_distances(coords), _distances(points), atol=1e-9)
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=1e-12)


def test_batched_equals_one_by_one_and_signs_are_fixed():
    points = np.random.default_rng(4).normal(size=(2, 3, 8, 3))
    distances = _distances(points)
    batched = cmds(distances, n_dims=2)
    assert batched.shape == (2, 3, 8, 2)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(batched[i, j], cmds(distances[i, j], n_dims=2), atol=1e-10)
    largest = np.take_along_axis(batched, np.argmax(np.abs(batched), axis=-2)[..., None, :], axis=-2)
    assert (largest > 0).all()


def test_first_axis_carries_the_largest_spread():
    points = np.c_[np.linspace(-10, 10, 9), np.linspace(-1, 1, 9)[::-1] * 0.1 + np.random.default_rng(0).normal(0, 0.5, 9)]
    coords = cmds(_distances(points), n_dims=2)
    assert coords[:, 0].var() > coords[:, 1].var()


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., n, n\)"):
        cmds(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_dims: 5"):
        cmds(np.zeros((3, 3)), n_dims=5)


def test_aligned_cmds_rotates_each_frame_onto_the_previous():
    from scipy.spatial.distance import cdist

    from igmm.metrics import aligned_cmds

    rng = np.random.default_rng(5)
    # Points on a circle: the two CMDS eigenvalues are nearly equal, so plain CMDS
    # picks its axes almost arbitrarily from frame to frame.
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    points = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    frames = [points + rng.normal(scale=0.01, size=points.shape) for _ in range(4)]
    distances = np.stack([cdist(frame, frame) for frame in frames])
    plain, aligned = cmds(distances), aligned_cmds(distances)
    for index in range(1, 4):
        # Alignment is an orthogonal map: distances within a frame are unchanged ...
        np.testing.assert_allclose(cdist(aligned[index], aligned[index]), cdist(plain[index], plain[index]), atol=1e-10)
        # ... and it brings each frame close to the one before.
        gap = np.abs(aligned[index] - aligned[index - 1]).max()
        assert gap < 0.05
        assert gap <= np.abs(plain[index] - aligned[index - 1]).max() + 1e-12
