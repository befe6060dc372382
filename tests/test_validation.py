"""Bad input gets a clear error naming the parameter, what was expected and what came."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from synergy import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    conditional_entropy,
    conditional_mutual_information,
    entropy,
    kl_divergence,
    mutual_information,
    s_max,
    specific_information,
)
from synergy.tables import condition, from_counts, from_samples, marginal
from synergy.testing import XOR, gate

GOOD = np.full((2, 2), 0.25)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ([0.5, np.nan], r"`p` parameter of entropy must be finite .*Got a table containing nan"),
        ([0.5, np.inf], r"must be finite .*Got a table containing inf"),
        ([1.5, -0.5], r"`p` parameter of entropy must be non-negative. Got .*-0.5"),
        ([0.3, 0.3], r"summing to 1 within 1.5e-08\. Got a sum of 0.6"),
        (np.array([0.3, 0.3], dtype=np.float32), r"summing to 1 within 0.00035"),
        (np.array(0.5), r"at least 1 table axes .* Got an array with 0 axes"),
        (np.zeros((0, 2)), r"non-empty table .*Got an array of shape \(0, 2\)"),
    ],
)
def test_bad_distributions(value, match):
    with pytest.raises(InvalidDistributionError, match=match):
        entropy(value)


def test_counts_passed_as_probabilities_get_a_hint():
    with pytest.raises(InvalidDistributionError, match=r"Got a sum of 10\.0 .*from_counts"):
        entropy([3, 7])


def test_float32_within_its_tolerance_is_accepted():
    p = np.array([0.1, 0.2, 0.7], dtype=np.float32)
    assert entropy(p) == pytest.approx(entropy(p.astype(np.float64)), rel=1e-15)


@pytest.mark.parametrize(
    "value", [np.array(["a", "b"]), np.array([0.5 + 0j, 0.5]), np.array([True, False]), [object()]]
)
def test_wrong_dtypes(value):
    with pytest.raises(
        InvalidTypeError, match=r"`p` parameter of entropy must be an array of real"
    ):
        entropy(value)


def test_ragged_input():
    with pytest.raises(InvalidTypeError, match=r"`p` parameter of entropy"):
        entropy([[0.5], [0.25, 0.25]])


@pytest.mark.parametrize("base", [0, -2, 1, 1.0, math.inf, math.nan])
def test_bad_base_values(base):
    with pytest.raises(
        InvalidParameterError, match=r"`base` parameter of mutual_information must"
    ):
        mutual_information(XOR, base=base)


@pytest.mark.parametrize("base", ["2", None, True, 2j])
def test_bad_base_types(base):
    with pytest.raises(InvalidTypeError, match=r"`base` parameter of entropy must be a real"):
        entropy(XOR, base=base)


def test_axis_out_of_range():
    with pytest.raises(InvalidParameterError, match=r"`axes` .* range \[-3, 3\) .*Got axis 3"):
        entropy(XOR, axes=3)


def test_axis_repeated():
    with pytest.raises(InvalidParameterError, match=r"`axes` .* distinct axes. Got \[0, 0\]"):
        entropy(XOR, axes=[0, 0])


def test_axis_wrong_type():
    with pytest.raises(InvalidTypeError, match=r"`axes` .* integer axis"):
        entropy(XOR, axes="0")
    with pytest.raises(InvalidTypeError, match=r"`axes` .* integer axis"):
        entropy(XOR, axes=[0.5])


def test_overlapping_groups():
    with pytest.raises(InvalidParameterError, match=r"`b` parameter of mutual_information .*dis"):
        mutual_information(XOR, [0, 1], [1, 2])
    with pytest.raises(InvalidParameterError, match=r"`given` parameter of conditional_entropy"):
        conditional_entropy(XOR, 2, [1, 2])
    with pytest.raises(InvalidParameterError, match=r"`given` .*conditional_mutual_information"):
        conditional_mutual_information(XOR, 0, 1, [1])


def test_empty_group():
    with pytest.raises(InvalidParameterError, match=r"`a` .* non-empty group .*Got an empty"):
        mutual_information(XOR, [], 2)


def test_mutual_information_needs_two_axes():
    with pytest.raises(InvalidDistributionError, match=r"at least two axes"):
        mutual_information([0.5, 0.5])


def test_specific_information_refuses_the_target():
    with pytest.raises(InvalidParameterError, match=r"`a` parameter of specific_information"):
        specific_information(XOR, [0, 2])


def test_kl_shape_mismatch_and_second_argument_named():
    with pytest.raises(
        InvalidParameterError, match=r"`q` parameter of kl_divergence .*same shape"
    ):
        kl_divergence([0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])
    with pytest.raises(InvalidDistributionError, match=r"`q` parameter of kl_divergence"):
        kl_divergence([0.5, 0.5], [0.5, 0.6])


def test_batch_ndim_checks():
    with pytest.raises(InvalidParameterError, match=r"`batch_ndim` .* non-negative integer"):
        entropy(XOR, batch_ndim=-1)
    with pytest.raises(InvalidTypeError, match=r"`batch_ndim` .* non-negative integer"):
        entropy(XOR, batch_ndim=1.0)
    with pytest.raises(
        InvalidDistributionError, match=r"at least 1 table axes after batch_ndim=3"
    ):
        entropy(XOR, batch_ndim=3)
    with pytest.raises(InvalidDistributionError, match=r"per table"):
        entropy(np.ones((2, 2)), batch_ndim=1)  # each row sums to 2


def test_validate_false_skips_checks():
    # documented: the caller vouches for the input; counts then give a meaningless number
    assert math.isfinite(entropy([3.0, 7.0], validate=False))


def test_tables_errors():
    with pytest.raises(InvalidDistributionError, match=r"`counts` parameter of from_counts"):
        from_counts([-1, 2])
    with pytest.raises(InvalidDistributionError, match=r"positive total"):
        from_counts([0, 0])
    with pytest.raises(InvalidParameterError, match=r"columns of equal length"):
        from_samples([1, 2], [1])
    with pytest.raises(InvalidParameterError, match=r"at least one sample column"):
        from_samples()
    with pytest.raises(InvalidTypeError, match=r"`columns\[0\]` .*1-D sequence"):
        from_samples("abc")
    with pytest.raises(InvalidTypeError, match=r"hashable"):
        from_samples([{"a": 1}, {"b": 2}], [0, 1])
    with pytest.raises(InvalidParameterError, match=r"`axes` parameter of marginal"):
        marginal(XOR, [0, 5])
    with pytest.raises(InvalidDistributionError, match=r"positive probability"):
        condition(gate("AND"), [0, 2], [0, 1])
    with pytest.raises(InvalidParameterError, match=r"`outcome` .* index in \[0, 2\)"):
        condition(XOR, 0, 2)
    with pytest.raises(InvalidParameterError, match=r"name"):
        gate("NAND")


# --- garbage in, documented exception out --------------------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
    ),
)
axes_garbage = st.one_of(st.none(), st.integers(-5, 5), st.lists(st.integers(-5, 5), max_size=3))

DOCUMENTED = (InvalidDistributionError, InvalidParameterError, InvalidTypeError)


def _call_all(p, a, b):
    yield lambda: entropy(p, a)
    yield lambda: conditional_entropy(p, a if a is not None else 0, b if b is not None else [])
    yield lambda: mutual_information(p, a, b)
    yield lambda: conditional_mutual_information(p, a if a is not None else 0, 1, b or [])
    yield lambda: kl_divergence(p, p)
    yield lambda: specific_information(p, a if a is not None else 0)
    yield lambda: from_counts(p)
    yield lambda: marginal(p, a if a is not None else 0)


@given(garbage, axes_garbage, axes_garbage)
def test_garbage_gets_only_documented_errors(p, a, b):
    for call in _call_all(p, a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no silent overflow or invalid-value warnings
            try:
                out = call()
            except DOCUMENTED:
                continue
        values = np.asarray(out, dtype=np.float64)
        assert not np.isnan(values).any(), "a silent NaN came out"


@pytest.mark.parametrize(
    ("column", "match"),
    [
        ({1, 2}, r"`columns\[0\]` parameter of from_samples .*Got a set, which has no order"),
        (frozenset({1, 2}), r"`columns\[0\]` .*Got a frozenset"),
        ({0: 1, 1: 2}, r"`columns\[0\]` .*Got a dict"),
        ((i for i in range(2)), r"`columns\[0\]` .*Got an iterator \(generator\)"),
        (iter([0, 1]), r"`columns\[0\]` .*Got an iterator"),
        (5, r"`columns\[0\]` .*1-D sequence of labels .*Got 5 \(type int\)"),
        (None, r"`columns\[0\]` .*Got None"),
        ("ab", r"`columns\[0\]` .*Got 'ab'"),
        (np.array(3), r"`columns\[0\]` .*Got an array of shape \(\)"),
        (np.zeros((2, 2, 2)), r"`columns\[0\]` .*Got an array of shape \(2, 2, 2\)"),
        ([[1], [2]], r"`columns\[0\]` .*hashable labels"),
        ([1, [2]], r"`columns\[0\]` .*hashable labels"),
        ([np.zeros(2), np.zeros(2)], r"`columns\[0\]` .*hashable labels"),
        ([1.0, np.nan], r"`columns\[0\]` .*finite labels"),
        ([1, float("nan")], r"`columns\[0\]` .*finite labels"),
        ([None, float("inf")], r"`columns\[0\]` .*finite labels"),
    ],
)
def test_from_samples_refuses_columns_it_cannot_pair(column, match):
    with pytest.raises((InvalidTypeError, InvalidParameterError), match=match):
        from_samples(column, [0, 1])


def test_from_samples_names_the_bad_column():
    with pytest.raises(InvalidTypeError, match=r"`columns\[1\]` parameter of from_samples"):
        from_samples([0, 1], {0, 1})


@pytest.mark.parametrize("axes", [1.0, None, "0", [0.5], [True]])
def test_marginal_refuses_axes_that_are_not_integers(axes):
    with pytest.raises(InvalidTypeError, match=r"`axes` parameter of marginal .*integer axis"):
        marginal(XOR, axes)


@pytest.mark.parametrize(
    ("given", "outcome", "param"),
    [([0], None, "outcome"), ([0], 1.0, "outcome"), (None, 0, "given"), (0.0, 0, "given")],
)
def test_condition_refuses_non_integer_axes_and_outcomes(given, outcome, param):
    with pytest.raises(InvalidTypeError, match=rf"`{param}` parameter of condition"):
        condition(XOR, given, outcome)


# --- samples given where a table is expected --------------------------------------------


def test_a_dataframe_of_samples_given_to_a_table_function_names_from_samples():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 2, (2, 100))
    df = pd.DataFrame({"x1": x1, "x2": x2, "y": x1 ^ x2})
    with pytest.raises(InvalidDistributionError, match=r"look like samples.*from_samples"):
        s_max(df)
    with pytest.raises(InvalidDistributionError, match=r"look like samples.*from_samples"):
        s_max(df.values)
    words = pd.DataFrame({"x": ["a", "b"], "y": ["c", "d"]})
    with pytest.raises(InvalidTypeError, match=r"Got a DataFrame of dtype object.*from_samples"):
        entropy(words)


def test_signed_integer_labels_are_called_samples_not_counts():
    spins = np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1], [-1, -1, -1]])
    with pytest.raises(InvalidDistributionError, match=r"non-negative.*look like samples"):
        mutual_information(spins)


def test_counts_that_are_no_samples_keep_the_counts_hint():
    with pytest.raises(InvalidDistributionError) as info:
        entropy([[3, 7], [1, 1]])  # square: a count table, not (samples, variables)
    assert "from_counts" in str(info.value)
    assert "samples" not in str(info.value)


def test_pandas_is_imported_only_when_a_dataframe_is_passed():
    import subprocess
    import sys

    code = (
        "import sys, synergy, synergy.tables, synergy.estimators.discrete as d;"
        "synergy.tables.from_samples([0, 1], [1, 0]);"
        "d.estimate('mutual_information', [0, 1, 1], [1, 0, 0], n_bootstrap=2, seed=0);"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_stack_of_tables_without_batch_ndim_says_which_batch_ndim():
    # Five AND tables stacked sum to 5: the message names the stack and the keyword, not
    # counts (deterministic tables are whole numbers too).
    import synergy
    from synergy.testing import AND, RDN

    with pytest.raises(InvalidDistributionError, match=r"stack of 5 tables: pass batch_ndim=1"):
        synergy.s_max(np.stack([AND] * 5))
    with pytest.raises(
        InvalidDistributionError, match=r"stack of 2 tables: pass batch_ndim=1"
    ) as info:
        synergy.wms(np.stack([RDN, XOR]))
    assert "counts" not in str(info.value)
    # A 2x3 grid of tables with batch_ndim=1 given: the whole grid is the stack.
    grid = np.stack([AND] * 6).reshape(2, 3, 2, 2, 2)
    with pytest.raises(InvalidDistributionError, match=r"2x3 = 6 tables: pass batch_ndim=2"):
        synergy.i_min(grid, batch_ndim=1)
    # Counts that are no stack of tables keep the counts advice.
    with pytest.raises(InvalidDistributionError, match="from_counts"):
        synergy.s_max(np.full((3, 2, 2), 2.0))
