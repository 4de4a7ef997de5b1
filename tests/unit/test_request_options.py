"""The endpoint's numeric options: every refusal names the option and what it must be."""

import pytest

from inference import errors
from inference.service import _option


@pytest.mark.parametrize(
    "value,message",
    [
        ("5", "top_k must be an integer"),
        (True, "top_k must be an integer"),
        (2.5, "top_k must be an integer"),
        (10**30, "top_k must be between 1 and 101"),
        (0, "top_k must be between 1 and 101"),
        (float("inf"), "top_k must be a finite number"),
        (float("nan"), "top_k must be a finite number"),
    ],
)
def test_a_bad_top_k_is_refused_with_what_it_must_be(value, message):
    with pytest.raises(errors.InferenceError) as refused:
        _option({"top_k": value}, "top_k", int, 5, 1, 101)
    assert refused.value.code == errors.INVALID_REQUEST and str(refused.value) == message


def test_a_good_value_and_the_default_pass():
    assert _option({"top_k": 3.0}, "top_k", int, 5, 1, 101) == 3
    assert _option({}, "top_k", int, 5, 1, 101) == 5
