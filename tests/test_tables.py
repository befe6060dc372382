"""from_counts, from_samples, marginal, condition, and the named gates."""

import dataclasses
import itertools
import math

import numpy as np
import pytest

from synergy import mutual_information
from synergy.tables import condition, encode_samples, from_counts, from_samples, marginal
from synergy.testing import AND, GATES, XOR, gate


def test_from_counts_normalises_each_table():
    counts = np.array([[[1, 3], [0, 4]], [[2, 2], [2, 2]]])
    p = from_counts(counts, batch_ndim=1)
    np.testing.assert_allclose(p.sum(axis=(1, 2)), [1.0, 1.0])
    np.testing.assert_allclose(p[0], [[1 / 8, 3 / 8], [0, 4 / 8]])


def test_from_samples_integer_and_string_labels():
    x = [0, 0, 1, 1, 1, 5]
    y = ["b", "a", "a", "a", "b", "b"]
    table, labels = from_samples(x, y)
    np.testing.assert_array_equal(labels[0], [0, 1, 5])
    np.testing.assert_array_equal(labels[1], ["a", "b"])
    np.testing.assert_allclose(table, np.array([[1, 1], [2, 1], [0, 1]]) / 6)


def test_from_samples_recovers_a_gate():
    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 2, 4000), rng.integers(0, 2, 4000)
    table, _ = from_samples(x1, x2, x1 ^ x2)
    assert table.shape == (2, 2, 2)
    assert mutual_information(table) > 0.99


def test_from_samples_tuple_and_unorderable_labels():
    table, labels = from_samples([(0, 1), (0, 1), (2, 3)], [None, "x", None])
    assert table.shape == (2, 2)
    assert labels[0].tolist() == [(0, 1), (2, 3)]
    assert labels[1].tolist() == [None, "x"]  # unorderable mix: first-seen order


def test_marginal_keeps_the_given_order():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(24)).reshape(2, 3, 4)
    np.testing.assert_allclose(marginal(p, [2, 0]), p.sum(axis=1).T)
    np.testing.assert_allclose(marginal(p, -1), p.sum(axis=(0, 1)))


def test_condition():
    # AND given Y = 1: X1 = X2 = 1 with certainty (definition of the gate)
    np.testing.assert_allclose(condition(AND, 2, 1), [[0, 0], [0, 1]])
    # XOR given X1 = 0: Y = X2, uniform
    np.testing.assert_allclose(condition(XOR, 0, 0), [[0.5, 0], [0, 0.5]])


def test_gates_are_probability_tables_and_read_only():
    for name, g in GATES.items():
        assert g.table.ndim >= 3, name
        np.testing.assert_allclose(g.table.sum(), 1.0, err_msg=name)
        assert not g.table.flags.writeable
        assert g.source
        assert g.description
        copy = gate(name)
        copy[...] = 0  # a copy is the user's to change
    with pytest.raises(ValueError, match="read-only"):
        XOR[0, 0, 0] = 1.0


# --- labels are told apart by Python equality ------------------------------------------


def test_from_samples_keeps_labels_that_compare_unequal_apart():
    # 1 != "1": X determines Y, so the plug-in I(X; Y) is H(Y) = 1 bit (two equiprobable
    # values); merging the labels would give 0.
    table, labels = from_samples([1, "1", 1, "1"], [0, 1, 0, 1])
    assert table.shape == (2, 2)
    assert mutual_information(table) == pytest.approx(1.0, abs=1e-12)
    assert sorted(map(repr, labels[0])) == ["'1'", "1"]
    table, labels = from_samples([b"a", "a", b"a", "a"], [0, 1, 0, 1])
    assert table.shape == (2, 2)
    assert set(labels[0].tolist()) == {b"a", "a"}


def test_from_samples_merges_labels_that_compare_equal():
    # 1 == 1.0 == True in Python, so they are one label (one cell per equal value).
    table, _ = from_samples([1, 1.0, True, 2], [0, 0, 0, 1])
    assert table.shape == (2, 2)
    np.testing.assert_allclose(table, [[0.75, 0], [0, 0.25]])


def test_from_samples_tuple_labels_of_different_lengths():
    table, labels = from_samples([(1, 2), (1,), (1, 2), (1,)], [0, 1, 0, 1])
    assert table.shape == (2, 2)
    assert labels[0].tolist() == [(1,), (1, 2)]  # tuples order lexicographically
    np.testing.assert_allclose(table, [[0, 0.5], [0.5, 0]])


def test_from_samples_sorts_mixed_orderable_labels_and_keeps_first_seen_otherwise():
    _, labels = from_samples([3, 2.5, None, 3])  # None makes it an object column
    assert labels[0].tolist() == [3, 2.5, None]  # unorderable with None: first seen
    _, labels = from_samples([3, 2.5, 1, 3])
    assert labels[0].tolist() == [1.0, 2.5, 3.0]


# --- DataFrames and 2-D arrays of samples ------------------------------------------------


def _xor_samples(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(0, 2, (2, n))
    return x1, x2, x1 ^ x2


def test_from_samples_reads_a_dataframe_column_by_column_and_keeps_the_names():
    pd = pytest.importorskip("pandas")
    x1, x2, y = _xor_samples()
    colour = np.where(x1 == 1, "red", "blue")
    df = pd.DataFrame({"colour": colour, "x2": pd.Categorical(x2), "y": y})
    table, labels = from_samples(df)
    expected, expected_labels = from_samples(list(colour), list(x2), list(y))
    np.testing.assert_array_equal(table, expected)
    for got, want in zip(labels, expected_labels, strict=True):
        assert got.tolist() == want.tolist()
    assert labels.names == ("colour", "x2", "y")
    assert from_samples(list(colour), list(y))[1].names is None


def test_encode_samples_round_trips_a_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "a": ["u", "v", "u", "w"],
            "b": [3, 1, 3, 3],
            7: [0.5, 0.5, 2.5, 0.5],
            "d": [1, "1", 1, "1"],
        }
    )
    enc = encode_samples(df)
    assert enc.names == ("a", "b", 7, "d")
    assert enc.shape == (3, 2, 2, 2)
    assert enc.n_samples == 4
    rebuilt = pd.DataFrame(
        {
            name: lab[codes]
            for name, codes, lab in zip(enc.names, enc.codes, enc.labels, strict=True)
        }
    )
    assert rebuilt.astype(object).equals(df.astype(object))
    assert all(codes.dtype == np.int64 for codes in enc.codes)


def test_from_samples_reads_a_2d_array_as_samples_by_variables():
    x1, x2, y = _xor_samples()
    samples = np.column_stack([x1, x2, y])  # (n_samples, n_variables), as scikit-learn's X
    table, labels = from_samples(samples)
    np.testing.assert_array_equal(table, from_samples(x1, x2, y)[0])
    assert table.shape == (2, 2, 2)
    assert [lab.tolist() for lab in labels] == [[0, 1]] * 3
    # A list of tuples stays one column of tuple labels.
    assert from_samples([(0, 1), (0, 1), (1, 1)])[0].shape == (2,)


def test_encode_samples_gives_per_column_codes_and_labels():
    enc = encode_samples(["b", "a", "b"], [10, 10, 30])
    np.testing.assert_array_equal(enc.codes[0], [1, 0, 1])
    np.testing.assert_array_equal(enc.codes[1], [0, 0, 1])
    assert enc.labels[1].tolist() == [10, 30]
    assert enc.names is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        enc.codes = ()  # type: ignore[misc]


# --- encode_samples: the one sample encoding of from_samples and the estimators ------


def test_encode_samples_keeps_labels_that_compare_unequal_apart():
    # 1 != "1" and b"a" != "a" in Python, so each pair is two labels (two codes); 1 == 1.0
    # is one label. The codes must map back to the labels sample by sample.
    column = [1, "1", 1.0, b"a", "a", "1"]
    enc = encode_samples(column)
    assert enc.shape == (4,)
    decoded = enc.labels[0][enc.codes[0]].tolist()
    assert [type(v) for v in decoded] == [int, str, int, bytes, str, str]
    assert decoded == [1, "1", 1, b"a", "a", "1"]
    assert len({enc.codes[0][i] for i in (0, 1, 3, 4)}) == 4
    assert enc.codes[0][0] == enc.codes[0][2]


def test_encode_samples_reads_a_2d_array_as_samples_by_variables():
    samples = np.array([[0, 5, 1], [1, 5, 0], [1, 7, 1], [0, 7, 1]])  # 4 samples, 3 variables
    enc = encode_samples(samples)
    assert enc.shape == (2, 2, 2)
    assert enc.n_samples == 4
    for j in range(3):
        np.testing.assert_array_equal(enc.labels[j][enc.codes[j]], samples[:, j])
    by_columns = encode_samples(*samples.T)
    np.testing.assert_array_equal(enc.cells(), by_columns.cells())


def test_encode_samples_reads_a_dataframe_column_by_column():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": ["u", "v", "u"], "y": [1, "1", 1]})
    enc = encode_samples(df)
    assert enc.names == ("x", "y")
    assert enc.shape == (2, 2)  # 1 and "1" are two labels in a DataFrame column too
    np.testing.assert_array_equal(
        enc.cells(), encode_samples(["u", "v", "u"], [1, "1", 1]).cells()
    )


def test_encoded_cells_and_counts_are_the_joint_table():
    rng = np.random.default_rng(8)
    cols = [rng.integers(0, 3, 50), rng.choice(["a", "b"], 50), rng.integers(-2, 2, 50)]
    enc = encode_samples(*cols)
    # Independent count: a dictionary of label tuples, indexed back through the labels.
    expected = np.zeros(enc.shape)
    for row in zip(*cols, strict=True):
        index = tuple(
            int(np.flatnonzero(lab == v)[0]) for lab, v in zip(enc.labels, row, strict=True)
        )
        expected[index] += 1
    np.testing.assert_array_equal(enc.counts(), expected)
    assert enc.cells().dtype == np.int64
    np.testing.assert_array_equal(
        np.bincount(enc.cells(), minlength=expected.size), expected.ravel()
    )
    table, _ = from_samples(*cols)
    np.testing.assert_array_equal(table, expected / 50)


# --- marginal: the library's one marginal, small tables compiled, large ones numpy ----


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 1, 2, 2), (17, 16, 16)])  # 24 to 4352 cells
def test_marginal_matches_einsum_in_every_order_and_batch(shape):
    # (17, 16, 16) has more cells than the compiled pass takes: both paths are checked.
    rng = np.random.default_rng(len(shape))
    batch = rng.dirichlet(np.ones(math.prod(shape)), size=3).reshape(3, *shape)
    letters = "abcd"[: len(shape)]
    for keep in itertools.chain.from_iterable(
        itertools.permutations(range(len(shape)), k) for k in range(1, len(shape) + 1)
    ):
        # Independent reference: einsum with the kept letters in the asked order.
        spec = f"z{letters}->z" + "".join(letters[a] for a in keep)
        expected = np.einsum(spec, batch)
        got = marginal(batch, list(keep), batch_ndim=1)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-16)
        assert got.flags.c_contiguous
        # One table gives the same bits alone as inside the batch.
        np.testing.assert_array_equal(marginal(batch[1], list(keep)), got[1])


def test_marginal_over_every_axis_in_order_is_a_copy():
    p = np.full((2, 2), 0.25)
    m = marginal(p, [0, 1])
    np.testing.assert_array_equal(m, p)
    m[0, 0] = 1.0  # the caller's array must not change
    assert p[0, 0] == 0.25
    assert marginal(XOR, [0, 1, 2]).flags.writeable
