"""Database policies: replace-farthest against hand-worked cases, oldest, random, insert."""

import numpy as np

from igmm.model import RAG_POLICIES, insert_point
from igmm.model.rag import farthest_slot


def test_replace_farthest_by_hand():
    rag = np.array([[0.0], [5.0], [1.0]])
    # From z = 0.5 the distances are 0.5, 4.5, 0.5: slot 1 is farthest.
    assert farthest_slot(rag, None, np.array([0.5]), None) == 1
    # From z = 3: 3, 2, 2 -> slot 0.
    assert farthest_slot(rag, None, np.array([3.0]), None) == 0


def test_replace_farthest_tie_goes_to_lowest_index():
    rag = np.array([[-1.0], [1.0], [0.0]])
    assert farthest_slot(rag, None, np.array([0.0]), None) == 0


def test_replace_farthest_uses_euclidean_distance_in_2d():
    rag = np.array([[3.0, 0.0], [2.0, 2.0]])  # |.|^2 = 9 and 8 from the origin
    assert farthest_slot(rag, None, np.zeros(2), None) == 0


def test_oldest_and_random_policies():
    rag = np.zeros((4, 1))
    ages = np.array([3, 1, 1, 2])
    assert RAG_POLICIES["oldest"](rag, ages, np.zeros(1), None) == 1
    uniforms = np.array([0.0, 0.26, 0.74, 0.999999])
    slots = RAG_POLICIES["random"](np.zeros((4, 4, 1)), np.zeros((4, 4)), np.zeros((4, 1)), uniforms)
    np.testing.assert_array_equal(slots, [0, 1, 2, 3])


def test_insert_point_copies_and_keeps_size():
    rag = np.array([[[0.0], [1.0], [2.0]]])
    dens = np.array([[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]])
    ages = np.zeros((1, 3), dtype=np.int64)
    new_rag, new_dens, new_ages = insert_point(
        rag, dens, ages, np.array([2]), np.array([[9.0]]), np.array([[0.25, 1.0]]), time=7
    )
    assert new_rag.shape == rag.shape
    np.testing.assert_array_equal(new_rag[0, :, 0], [0.0, 1.0, 9.0])
    np.testing.assert_array_equal(new_dens[0, 2], [0.25, 1.0])
    np.testing.assert_array_equal(new_ages[0], [0, 0, 7])
    assert rag[0, 2, 0] == 2.0  # input untouched
