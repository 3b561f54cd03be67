"""The Kaplan-Meier median of t*, the one median used in every report."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.metrics import kaplan_meier_median


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30))
def test_without_censoring_it_is_the_ordinary_median(times):
    assert kaplan_meier_median(times, [True] * len(times)) == np.median(times)


def test_censoring_by_hand():
    # S(2) = 5/6, S(4) = 5/6 * 4/5 = 2/3, S(6) = 2/3 * 2/3 = 4/9 < 1/2: median 6, not the naive 4.
    assert kaplan_meier_median([2, 4, 4, 6, 8, 10], [True, True, False, True, False, False]) == 6.0
    # Times 1 (censored), 2, 3 (censored), 4: S(2) = 2/3, S(4) = 0, so 4 (the uncensored times alone say 3).
    assert kaplan_meier_median([1, 2, 3, 4], [False, True, False, True]) == 4.0
    # S(2) = 1/2 exactly between events 2 and 3: the midpoint, as for an ordinary even-sized median.
    assert kaplan_meier_median([1, 2, 3, 4], [True, True, True, True]) == 2.5


def test_not_reached_when_half_or_more_never_converge():
    assert math.isnan(kaplan_meier_median([5, 10, 10, 10], [True, False, False, False]))
    assert math.isnan(kaplan_meier_median([5, 7, 80, 80], [True, True, False, False]))


def test_bad_shapes_are_rejected():
    import pytest

    with pytest.raises(ValueError, match="1-D of one length"):
        kaplan_meier_median([1, 2], [True])
