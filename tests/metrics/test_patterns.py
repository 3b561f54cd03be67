"""The silo-pattern classifier on synthetic trajectories with known patterns."""

import numpy as np
import pytest

from igmm.metrics import classify_patterns, pattern_shares
from igmm.metrics.patterns import PATTERN_NAMES, end_window

N_AGENTS, N_STEPS = 30, 40


def _constant(labels):
    return np.tile(np.asarray(labels), (N_STEPS + 1, 1))


def frozen_silos():
    return _constant(np.repeat([0, 1, 2], 10))


def consensus_after_decay():
    ids = _constant(np.arange(N_AGENTS) % 3)
    ids[20:] = 0
    return ids


def swapping_two_large_silos(seed=0):
    """Two silos of about 15 exchanging a few members at every step."""
    rng = np.random.default_rng(seed)
    ids = np.empty((N_STEPS + 1, N_AGENTS), dtype=np.int64)
    ids[0] = np.repeat([4, 9], 15)
    for t in range(1, N_STEPS + 1):
        ids[t] = ids[t - 1]
        movers = rng.choice(N_AGENTS, 2, replace=False)
        ids[t, movers] = np.where(ids[t, movers] == 4, 9, 4)
    return ids


def small_silos_dying():
    """One silo of 26, and 4 stragglers joining it one by one late in the run."""
    ids = _constant(np.r_[np.zeros(26, int), [5, 6, 7, 8]])
    for index, t in enumerate((32, 35, 38)):
        ids[t:, 26 + index] = 0
    return ids


def test_each_synthetic_pattern_is_recognised():
    batch = np.stack([frozen_silos(), consensus_after_decay(), swapping_two_large_silos(), small_silos_dying()])
    assert classify_patterns(batch).tolist() == ["stable", "consensus", "unstable", "decaying"]


def test_vectorised_over_leading_axes_equals_one_by_one():
    runs = [frozen_silos(), swapping_two_large_silos(1), small_silos_dying(), consensus_after_decay(),
            swapping_two_large_silos(2), frozen_silos()]
    batch = np.stack(runs).reshape(2, 3, N_STEPS + 1, N_AGENTS)
    patterns = classify_patterns(batch)
    assert patterns.shape == (2, 3)
    assert patterns.ravel().tolist() == [classify_patterns(r[None])[0] for r in runs]
    assert classify_patterns(frozen_silos()).shape == ()


def test_thresholds_are_keywords_that_change_the_result():
    swapping = swapping_two_large_silos()[None]
    assert classify_patterns(swapping)[0] == "unstable"
    # Large means half the agents: two silos of ~15 no longer both qualify all the time.
    assert classify_patterns(swapping, large_share=0.6)[0] == "decaying"
    # A stability threshold below the swapping rate calls the moving silos frozen.
    assert classify_patterns(swapping, frozen_stability=0.9)[0] == "stable"


def test_a_late_change_breaks_frozen():
    ids = frozen_silos()
    ids[-1, 0] = 1  # one agent switches at T
    assert classify_patterns(ids[None])[0] != "stable"
    ids = frozen_silos()
    ids[2, 0] = 1  # a switch long before the end window does not matter
    ids[3:, 0] = 0
    assert classify_patterns(ids[None])[0] == "stable"


def test_zero_steps_and_the_window():
    assert classify_patterns(np.zeros((1, 1, 5), int))[0] == "consensus"
    assert classify_patterns(np.arange(5)[None, None])[0] == "stable"
    assert end_window(40) == 10 and end_window(1) == 1 and end_window(0) == 0
    with pytest.raises(ValueError, match="window_share"):
        end_window(10, 0.0)


def test_shares_sum_to_one():
    shares = pattern_shares(np.array(["stable", "stable", "unstable", "consensus"]))
    assert set(shares) == set(PATTERN_NAMES)
    assert shares["stable"] == 0.5 and sum(shares.values()) == pytest.approx(1.0)


def test_works_on_labels_like_the_llm_flowers():
    # The LLM labels include a "no flower" label 30; any non-negative ints work.
    ids = swapping_two_large_silos()
    ids[ids == 9] = 30
    assert classify_patterns(ids[None])[0] == "unstable"
