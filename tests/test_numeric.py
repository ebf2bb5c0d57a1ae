"""``lightning_nas.numeric``: a real number or a whole one, never a bool."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_nas.numeric import is_int, is_number


@pytest.mark.parametrize("value", [0, 3, -7, 2**70, 0.5, -1e-3, float("inf"), float("nan"),
                                   np.float64(0.5)])
def test_ints_and_floats_are_numbers(value):
    assert is_number(value)


@pytest.mark.parametrize("value", [True, False, None, "3", "0.5", [1], np.int64(3),
                                   np.bool_(True), complex(1, 0)])
def test_bools_texts_none_and_others_are_no_numbers(value):
    # np.int64 is no ``int``: the checks that take NumPy's scalars use numbers.Real
    assert not is_number(value)


@pytest.mark.parametrize("value", [0, 1, -3, 2**70])
def test_ints_are_whole(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, 1.0, 0.5, None, "1", np.int64(1),
                                   np.float64(1.0)])
def test_bools_floats_texts_none_and_numpy_scalars_are_not_whole(value):
    assert not is_int(value)
