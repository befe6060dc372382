"""Entropy, MI, CMI, KL and specific information: reference values, properties, dit agreement."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import config as numba_config
from scipy import stats

import synergy
from synergy import (
    conditional_entropy,
    conditional_mutual_information,
    entropy,
    kl_divergence,
    mutual_information,
    specific_information,
)
from synergy.testing import AND, COPY, RDN, XOR, XOR3, tables
from tests._dit import random_table, to_dit

# With NUMBA_DISABLE_JIT=1 the kernels run as plain Python: same checks, smaller arrays.
SCALE = 10 if numba_config.DISABLE_JIT else 1

# --- reference values -------------------------------------------------------------------


def test_entropy_of_dyadic_tables_is_exact():
    # H(uniform over 2^k) = k bits exactly: the base-2 kernel has no rounding on powers of 2.
    for k in range(0, 11):
        assert entropy(np.full(2**k, 2.0**-k)) == float(k)
    assert mutual_information(XOR) == 1.0
    assert mutual_information(XOR3) == 1.0


def test_binary_entropy_matches_closed_form():
    # h(0.11) = -0.11 log2 0.11 - 0.89 log2 0.89 (closed form, evaluated with math.log2)
    q = 0.11
    expected = -q * math.log2(q) - (1 - q) * math.log2(1 - q)
    assert entropy([q, 1 - q]) == pytest.approx(expected, rel=1e-15)


def test_gate_informations():
    # AND: I(X1,X2;Y) = H(Y) = h(1/4) = 0.8112781244591328 bits (Williams & Beer 2010, Fig. 4)
    np.testing.assert_allclose(mutual_information(AND), 0.8112781244591328, rtol=1e-14)
    # AND: I(X1;Y) = 0.31127812445913283 bits (same source; h(1/4) - 1/2)
    np.testing.assert_allclose(mutual_information(AND, 0, 2), 0.31127812445913283, rtol=1e-14)
    # RDN: every source carries the whole bit
    assert mutual_information(RDN, 0, 2) == 1.0
    # COPY: Y = (X1, X2) carries 2 bits
    assert mutual_information(COPY) == 2.0


def test_specific_information_of_and():
    # AND, source X1: I(Y=0; X1) = D_KL[(2/3, 1/3) || (1/2, 1/2)] = 1 - h(1/3) = 0.0817041659455...
    # and I(Y=1; X1) = 1 bit (Y = 1 forces X1 = 1). Closed forms from the definition.
    h13 = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    np.testing.assert_allclose(specific_information(AND, 0), [1 - h13, 1.0], rtol=1e-14)


def test_kl_divergence_values():
    # D_KL[(1/2, 1/2) || (1/4, 3/4)] = 1/2 log2 2 + 1/2 log2(2/3) (closed form)
    expected = 0.5 * 1 + 0.5 * math.log2(2 / 3)
    np.testing.assert_allclose(kl_divergence([0.5, 0.5], [0.25, 0.75]), expected, rtol=1e-14)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == 1.0


def test_base_e_agrees_with_scipy():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(50))
    np.testing.assert_allclose(entropy(p, base=math.e), stats.entropy(p), rtol=1e-14)
    np.testing.assert_allclose(entropy(p, base=10), stats.entropy(p, base=10), rtol=1e-14)


def test_return_types():
    assert type(entropy(XOR)) is float
    out = entropy(np.stack([XOR, AND]), batch_ndim=1)
    assert isinstance(out, np.ndarray)
    assert out.shape == (2,)
    assert out.dtype == np.float64
    assert specific_information(XOR, 0).shape == (2,)


def test_large_table_matches_scipy():
    rng = np.random.default_rng(1)
    p = rng.random(200_000 // SCALE)
    p /= p.sum()
    np.testing.assert_allclose(entropy(p), stats.entropy(p, base=2), rtol=1e-13)


def test_subnormal_and_zero_cells():
    p = np.array([1.0 - 1e-310, 1e-310, 0.0])
    expected = -(1e-310) * math.log2(1e-310) - (1 - 1e-310) * math.log2(1 - 1e-310)
    assert entropy(p) == pytest.approx(expected, rel=1e-12, abs=0)


# --- batching ---------------------------------------------------------------------------


def test_batched_equals_looped_for_every_function():
    rng = np.random.default_rng(2)
    batch = rng.dirichlet(np.ones(24), size=(5, 7)).reshape(5, 7, 2, 3, 4)
    q = rng.dirichlet(np.ones(24), size=(5, 7)).reshape(5, 7, 2, 3, 4)
    calls = [
        (entropy, (), {"axes": (0, 2)}),
        (conditional_entropy, (2, [0, 1]), {}),
        (mutual_information, (), {}),
        (conditional_mutual_information, (0, 2, 1), {}),
        (specific_information, ((0, 1),), {}),
    ]
    for f, args, kwargs in calls:
        batched = f(batch, *args, batch_ndim=2, **kwargs)
        looped = np.array([[f(batch[i, j], *args, **kwargs) for j in range(7)] for i in range(5)])
        np.testing.assert_array_equal(batched, looped, err_msg=f.__name__)
    kl_b = kl_divergence(batch, q, batch_ndim=2)
    kl_l = np.array([[kl_divergence(batch[i, j], q[i, j]) for j in range(7)] for i in range(5)])
    np.testing.assert_array_equal(kl_b, kl_l)


def test_many_small_tables_in_one_call():
    rng = np.random.default_rng(3)
    n = 20_000 // SCALE
    p = rng.dirichlet(np.ones(8), size=n).reshape(-1, 2, 2, 2)
    mi = mutual_information(p, batch_ndim=1)
    assert mi.shape == (n,)
    idx = rng.choice(n, 50, replace=False)
    np.testing.assert_array_equal(mi[idx], [mutual_information(p[i]) for i in idx])


# --- properties -------------------------------------------------------------------------

two_or_three_axes = tables(st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple))


@given(two_or_three_axes)
def test_mi_bounds(p):
    # 0 <= I(A;B) <= min(H(A), H(B)) up to rounding
    a, b = tuple(range(p.ndim - 1)), p.ndim - 1
    mi = mutual_information(p)
    assert mi >= -1e-12
    assert mi <= min(entropy(p, a), entropy(p, b)) + 1e-12


@given(two_or_three_axes)
def test_chain_rule(p):
    # H(A, B) = H(A) + H(B | A)
    a, b = 0, tuple(range(1, p.ndim))
    np.testing.assert_allclose(
        entropy(p), entropy(p, a) + conditional_entropy(p, b, a), rtol=1e-12, atol=1e-12
    )


@given(two_or_three_axes)
def test_mi_symmetry(p):
    a, b = 0, p.ndim - 1
    np.testing.assert_allclose(
        mutual_information(p, a, b), mutual_information(p, b, a), rtol=1e-12, atol=1e-13
    )


@given(two_or_three_axes, st.randoms(use_true_random=False))
def test_relabelling_symbols_changes_nothing(p, rnd):
    # Permuting the symbols of each variable is a relabelling: every quantity is invariant.
    q = p
    for axis in range(p.ndim):
        perm = list(range(p.shape[axis]))
        rnd.shuffle(perm)
        q = np.take(q, perm, axis=axis)
    np.testing.assert_allclose(entropy(q), entropy(p), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        mutual_information(q), mutual_information(p), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        np.sort(specific_information(q, 0)), np.sort(specific_information(p, 0)), atol=1e-12
    )


@given(two_or_three_axes, st.sampled_from([math.e, 10.0, 3.0, 0.5]))
def test_base_rescales_every_value_by_the_same_factor(p, base):
    factor = math.log(2) / math.log(base)
    for f in (entropy, mutual_information):
        np.testing.assert_allclose(f(p, base=base), f(p) * factor, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        specific_information(p, 0, base=base), specific_information(p, 0) * factor, atol=1e-13
    )


@given(two_or_three_axes)
def test_specific_information_averages_to_mi(p):
    # sum_y p(y) I(Y=y; A) = I(A; Y)
    p_y = p.sum(axis=tuple(range(p.ndim - 1)))
    np.testing.assert_allclose(
        p_y @ specific_information(p, 0),
        mutual_information(p, 0, p.ndim - 1),
        rtol=1e-10,
        atol=1e-12,
    )


@given(tables((3, 4)), tables((3, 4), zeros=False))
def test_kl_nonnegative_and_zero_on_itself(p, q):
    assert kl_divergence(p, q) >= -1e-12
    assert abs(kl_divergence(p, p)) < 1e-12


# --- agreement with dit -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 2, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("zeros", [False, True])
def test_agrees_with_dit(shape, zeros):
    # dit 2.3: dit.shannon.{entropy, conditional_entropy, mutual_information}, dit.multivariate.
    # coinformation for CMI; all in bits.
    import dit

    rng = np.random.default_rng(sum(shape) + zeros)
    for _ in range(5):
        p = random_table(rng, shape, zeros=zeros)
        d = to_dit(p)
        rvs = list(range(len(shape)))
        y = rvs[-1]
        xs = rvs[:-1]
        np.testing.assert_allclose(entropy(p), dit.shannon.entropy(d), atol=1e-12)
        np.testing.assert_allclose(entropy(p, 0), dit.shannon.entropy(d, [0]), atol=1e-12)
        np.testing.assert_allclose(
            conditional_entropy(p, y, xs), dit.shannon.conditional_entropy(d, [y], xs), atol=1e-12
        )
        np.testing.assert_allclose(
            mutual_information(p), dit.shannon.mutual_information(d, xs, [y]), atol=1e-12
        )
        np.testing.assert_allclose(
            conditional_mutual_information(p, 0, y, xs[1:]),
            dit.multivariate.coinformation(d, [[0], [y]], xs[1:]),
            atol=1e-12,
        )


def test_public_functions_are_exported():
    for name in [
        "entropy",
        "conditional_entropy",
        "mutual_information",
        "conditional_mutual_information",
        "kl_divergence",
        "specific_information",
    ]:
        assert name in synergy.__all__
        assert callable(getattr(synergy, name))


def test_fused_validation_gives_the_same_bits_and_the_same_errors():
    rng = np.random.default_rng(4)
    p = rng.random(50_000 // SCALE)
    p /= p.sum()
    assert entropy(p) == entropy(p, validate=False)
    bad = p.copy()
    bad[7] = -bad[7]
    with pytest.raises(synergy.InvalidDistributionError, match="non-negative"):
        entropy(bad)
    with pytest.raises(synergy.InvalidDistributionError, match="summing to 1"):
        entropy(p * 1.01)


def test_one_bound_switches_both_marginal_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    # The marginal and the fused marginal entropy switch from the compiled pass to
    # ndarray.sum at one size, synergy._kernels.MARGINAL_KERNEL_MAX_CELLS: lowering it
    # below a table's cell count sends the entropy down numpy's path too.
    from synergy import _kernels
    from synergy.information import entropy_bits

    fused = {"calls": 0}
    kernel = _kernels.marginal_neg_xlogx_rows

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        fused["calls"] += 1
        return kernel(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_kernels, "marginal_neg_xlogx_rows", counted)
    p = np.full((2, 3, 2), 1 / 12)
    # H(X1, X2) of the uniform 2x3 marginal: log2(6) bits, by definition of the uniform law.
    np.testing.assert_allclose(entropy_bits(p, 0, (0, 1)), math.log2(6), rtol=1e-15)
    assert fused["calls"] == 1
    monkeypatch.setattr(_kernels, "MARGINAL_KERNEL_MAX_CELLS", 4)
    np.testing.assert_allclose(entropy_bits(p, 0, (0, 1)), math.log2(6), rtol=1e-15)
    assert fused["calls"] == 1  # the 12-cell table now takes ndarray.sum
