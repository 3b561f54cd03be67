"""Polarization of language-model runs with neighbourhoods from this round's answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.llm.embed import hashing_embedder
from igmm.llm.measures import answer_neighbours, polarization_flags, run_polarization


def polarized_by_definition(ids: np.ndarray, distances: np.ndarray, k: int) -> bool:
    """Two or more silos and every agent's k nearest (ties by index) share its ID: the plain loop."""
    n_agents = len(ids)
    if len(set(ids.tolist())) < 2:
        return False
    for agent in range(n_agents):
        others = sorted((distances[agent, other], other) for other in range(n_agents) if other != agent)
        if any(ids[other] != ids[agent] for _, other in others[:min(k, n_agents - 1)]):
            return False
    return True


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(2, 7), st.integers(1, 8), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_flags_match_the_definition_step_by_step(n_agents, k, n_steps, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 3, size=(n_steps + 1, n_agents))
    # Few distinct positions, so distance ties occur and the index rule matters.
    positions = rng.integers(0, 4, size=(n_steps, n_agents)).astype(float)
    distances = np.abs(positions[:, :, None] - positions[:, None, :])
    flags = polarization_flags(ids, distances, k)
    assert flags[0] == False  # noqa: E712  (no answers, no neighbourhood at t = 0)
    assert flags[1:].tolist() == [polarized_by_definition(ids[s + 1], distances[s], k) for s in range(n_steps)]


def test_two_separated_pairs_are_polarized_until_they_merge():
    ids = np.array([[0, 1, 2, 3], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    positions = np.array([[0.0, 0.1, 5.0, 5.1]] * 3)
    distances = np.abs(positions[:, :, None] - positions[:, None, :])
    assert polarization_flags(ids, distances, k=1).tolist() == [False, True, True, False]
    # With k = 2 every agent also sees one of the other pair: open, not polarized.
    assert polarization_flags(ids, distances, k=2).tolist() == [False, False, False, False]


def test_neighbours_exclude_oneself_break_ties_by_index_and_clamp_k():
    distances = np.zeros((1, 3, 3))
    assert answer_neighbours(distances, 1)[0].tolist() == [[1], [0], [0]]
    assert answer_neighbours(distances, 99).shape == (1, 3, 2)
    with pytest.raises(ValueError, match="k: 0 is not allowed"):
        answer_neighbours(distances, 0)


def test_run_polarization_embeds_the_answers():
    texts = np.array([["The rose.", "The rose.", "A tulip.", "A tulip."]] * 2, dtype=object)
    ids = np.array([[0, 1, 2, 3], [0, 0, 2, 2], [0, 0, 2, 2]])
    assert run_polarization(ids, texts, 1, hashing_embedder()).tolist() == [False, True, True]


def test_shapes_must_fit():
    with pytest.raises(ValueError, match="do not fit"):
        polarization_flags(np.zeros((3, 2), int), np.zeros((3, 2, 2)), 1)
