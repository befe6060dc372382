"""Logarithm bases below 1 flip the sign of every information value.

A base b < 1 is allowed (``check_base`` accepts any positive b != 1): values in base b are
the values in bits divided by log2(b) < 0. What must not flip: which source is the least
informative (a minimum taken after the division picks the most informative one), and the
solver's tolerance and duality gap, which are widths and stay positive.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import synergy
from synergy.pid import decompose, union_information
from synergy.testing import AND

BASE = 0.5  # log2(0.5) = -1: every value in base 0.5 is minus the value in bits
RNG_TABLES = np.random.default_rng(20261202).dirichlet(np.ones(8), size=5).reshape(5, 2, 2, 2)


@pytest.mark.parametrize("p", [AND, *RNG_TABLES], ids=["AND", *map(str, range(5))])
def test_union_information_certifies_in_a_base_below_one(p: np.ndarray) -> None:
    bits = union_information(p)
    with warnings.catch_warnings():
        # Before the fix, tol turned negative in nats: no table could certify, every call
        # warned and fell back to cvxpy.
        warnings.simplefilter("error")
        flipped = union_information(p, base=BASE)
    assert flipped.status == "optimal"
    assert flipped.gap >= 0
    assert math.isclose(flipped.synergy, -bits.synergy, abs_tol=1e-9)
    assert math.isclose(flipped.value, -bits.value, abs_tol=1e-9)


def test_batched_union_information_in_a_base_below_one() -> None:
    bits = union_information(RNG_TABLES, batch_ndim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flipped = union_information(RNG_TABLES, base=BASE, batch_ndim=1)
    assert (flipped.status == "optimal").all()
    assert (flipped.gap >= 0).all()
    np.testing.assert_allclose(flipped.synergy, -bits.synergy, atol=1e-9)


def test_broja_decompose_gap_is_a_width_in_a_base_below_one() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = decompose(AND, "broja", base=BASE)
    assert result.gap >= 0
    # BROJA on AND: synergy 0.5 bit, shared 0.311 bit (Bertschinger et al. 2014).
    assert math.isclose(result.synergy, -0.5, abs_tol=1e-9)


def test_gaussian_mmi_pid_takes_the_least_informative_source_in_any_base() -> None:
    torch = pytest.importorskip("torch")
    from synergy.estimators.gaussian import gaussian_mmi_pid

    # X0 independent of (X1, Y): I(X0; Y) = 0, so MMI redundancy is 0 in every base
    # (found by the fuzz test, which caught -0.424 for 0).
    cov = torch.tensor([[0.5, 0.0, 0.0], [0.0, 1.5, 1.0], [0.0, 1.0, 1.5]], dtype=torch.float64)
    bits = gaussian_mmi_pid(cov, [0, 1], -1)
    flipped = gaussian_mmi_pid(cov, [0, 1], -1, base=BASE)
    assert float(flipped.redundancy) == pytest.approx(0.0, abs=1e-12)
    assert float(flipped.synergy) == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(flipped.unique, -bits.unique, atol=1e-12, rtol=0)
    torch.testing.assert_close(flipped.mutual_information, -bits.mutual_information)


@pytest.mark.torch
def test_torch_s_vk_certifies_in_a_base_below_one() -> None:
    torch = pytest.importorskip("torch")
    import synergy.torch as st

    p = torch.tensor(RNG_TABLES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flipped = st.s_vk(p, base=BASE, batch_ndim=1)
    np.testing.assert_allclose(
        flipped.numpy(), -np.asarray(synergy.s_vk(RNG_TABLES, batch_ndim=1)), atol=1e-9
    )
