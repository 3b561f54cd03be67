"""Database policies: replace-farthest against hand-worked cases, oldest, random, insert."""

import numpy as np

from igmm.model import choose_slot, write_point
from igmm.model.rag import farthest_slot
from igmm.registry import RAG_POLICIES


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
    assert RAG_POLICIES.get("oldest")(rag, ages, np.zeros(1), None) == 1
    uniforms = np.array([0.0, 0.26, 0.74, 0.999999])
    slots = RAG_POLICIES.get("random")(np.zeros((4, 4, 1)), np.zeros((4, 4)), np.zeros((4, 1)), uniforms)
    np.testing.assert_array_equal(slots, [0, 1, 2, 3])


def test_write_point_in_the_engine_layout_and_only_for_absorbing_databases():
    # Two databases (batch last) of three 1-D points, two components.
    rag = np.array([[[0.0, 10.0]], [[1.0, 11.0]], [[2.0, 12.0]]])          # (rag_size, n_dims, n_batch)
    dens = np.zeros((3, 2, 2))
    ages = np.zeros((3, 2), dtype=np.int64)
    slot = choose_slot("farthest", rag, ages, np.array([[2.1, 10.2]]), np.zeros(2))
    np.testing.assert_array_equal(slot, [0, 2])
    write_point(rag, dens, ages, slot, np.array([[9.0, 19.0]]), np.array([[0.25, 0.5], [1.0, 1.0]]), time=7,
                absorb=np.array([True, False]))
    np.testing.assert_array_equal(rag[:, 0, 0], [9.0, 1.0, 2.0])
    np.testing.assert_array_equal(rag[:, 0, 1], [10.0, 11.0, 12.0])  # not absorbing: untouched
    np.testing.assert_array_equal(dens[0, :, 0], [0.25, 1.0])
    np.testing.assert_array_equal(ages[:, 0], [7, 0, 0])
