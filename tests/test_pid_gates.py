"""Canonical gates against the values of the PID literature, computed from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synergy import testing
from synergy.pid import decompose, i_max, i_min, s_max, wms

# The canonical gates from synergy.testing (sources first, target last; see each
# GATES[name].source for its provenance).
XOR = testing.XOR
AND = testing.AND
RDN = testing.RDN
UNQ = testing.UNQ
COPY = testing.COPY
SUM = testing.SUM
XORAND = testing.XorAnd
XOR3 = testing.XOR3
RDNXOR = testing.RdnXor

# Williams & Beer (2010), AND: with p(y=1) = 1/4, I(Y=1; X_i) = 1 bit and
# I(Y=0; X_i) = D_KL[(2/3, 1/3) || (1/2, 1/2)] = 2/3 log2(4/3) + 1/3 log2(2/3); both sources
# are alike, so I_min = 1/4 * 1 + 3/4 * I(Y=0; X_i) = 0.311278 bit (also
# Bertschinger et al. 2014, Table 1: shared 0.311, synergy 0.5).
AND_REDUNDANCY = 0.25 + 0.5 * math.log2(4 / 3) + 0.25 * math.log2(2 / 3)
AND_MI = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))  # H(Y), Y a function of X

# (table, I(X;Y), redundancy, unique_1, unique_2, synergy) for I_min.
# XOR, RDN, UNQ, AND: Williams & Beer (2010) Fig. 4 and Bertschinger et al. (2014) Table 1.
# COPY: I_min calls 1 bit of the 2 redundant, 0 unique and 1 synergistic, the artifact that
# Harder, Salge & Polani (2013, Phys. Rev. E 87, 012130) point out (BROJA: 0, 1, 1, 0).
# SUM: H(Y) = 1.5 bits; I(Y=0; X_i) = I(Y=2; X_i) = 1 bit, I(Y=1; X_i) = 0, so I_min = 0.5.
# RdnXor: 1 bit redundant (r) + 1 bit synergistic (a xor b) (Griffith & Koch 2014).
# XorAnd: H(Y) = 1.5 bits; I(X_i;Y) = 0.5 bit with specific information 1, 1, 0, so
# I_min = 0.5 redundant and 1 bit synergistic (dit 2.3 docs, PID_WB on 'xor and').
IMIN_CASES = {
    "XOR": (XOR, 1.0, 0.0, 0.0, 0.0, 1.0),
    "AND": (AND, AND_MI, AND_REDUNDANCY, 0.0, 0.0, AND_MI - AND_REDUNDANCY),
    "RDN": (RDN, 1.0, 1.0, 0.0, 0.0, 0.0),
    "UNQ": (UNQ, 1.0, 0.0, 1.0, 0.0, 0.0),
    "COPY": (COPY, 2.0, 1.0, 0.0, 0.0, 1.0),
    "SUM": (SUM, 1.5, 0.5, 0.0, 0.0, 1.0),
    "RdnXor": (RDNXOR, 2.0, 1.0, 0.0, 0.0, 1.0),
    "XorAnd": (XORAND, 1.5, 0.5, 0.0, 0.0, 1.0),
    # OR is AND with every symbol flipped: the same atoms (Williams & Beer 2010).
    "OR": (testing.OR, AND_MI, AND_REDUNDANCY, 0.0, 0.0, AND_MI - AND_REDUNDANCY),
}


@pytest.mark.parametrize("name", list(IMIN_CASES))
@pytest.mark.parametrize("measure", ["imin", "imax"])
def test_two_source_gates(name: str, measure: str) -> None:
    # For two sources I_max's decomposition equals I_min's (min + max = sum at each y).
    table, mi, red, u1, u2, syn = IMIN_CASES[name]
    result = decompose(table, measure)
    np.testing.assert_allclose(result.mutual_information, mi, atol=1e-12)
    np.testing.assert_allclose(result.redundancy, red, atol=1e-12)
    np.testing.assert_allclose(result.unique, (u1, u2), atol=1e-12)
    np.testing.assert_allclose(result.synergy, syn, atol=1e-12)
    np.testing.assert_allclose(sum(result.atoms.values()), mi, atol=1e-12)
    assert result.status == "exact"
    assert result.gap is None
    assert result.iterations is None


@pytest.mark.parametrize("name", list(IMIN_CASES))
def test_closed_forms_on_gates(name: str) -> None:
    table, mi, red, u1, u2, syn = IMIN_CASES[name]
    i_1, i_2 = red + u1, red + u2  # I(X_i; Y) from the atoms below {i}
    np.testing.assert_allclose(i_min(table), red, atol=1e-12)
    # max + min = sum at each y, so I_max = I(X1;Y) + I(X2;Y) - I_min for two sources.
    np.testing.assert_allclose(i_max(table), i_1 + i_2 - red, atol=1e-12)
    np.testing.assert_allclose(s_max(table), syn, atol=1e-12)
    np.testing.assert_allclose(wms(table), mi - i_1 - i_2, atol=1e-12)


def test_and_redundancy_value() -> None:
    # Williams & Beer (2010) quote 0.311 bit for AND.
    np.testing.assert_allclose(i_min(AND), 0.3113, atol=5e-5)


def test_three_source_xor_is_pure_synergy() -> None:
    # Y = X1 xor X2 xor X3: no proper subset of the sources says anything about Y, so
    # every atom is 0 but the top {0,1,2}, which holds H(Y) = 1 bit.
    result = decompose(XOR3, "imin")
    assert len(result.atoms) == 18
    top = ((0, 1, 2),)
    np.testing.assert_allclose(result.atoms[top], 1.0, atol=1e-12)
    others = [v for node, v in result.atoms.items() if node != top]
    np.testing.assert_allclose(others, 0.0, atol=1e-12)
    np.testing.assert_allclose(s_max(XOR3), 1.0, atol=1e-12)
    np.testing.assert_allclose(wms(XOR3), 1.0, atol=1e-12)


def test_three_source_rdn_is_pure_redundancy() -> None:
    # X1 = X2 = X3 = Y uniform: all of I(X;Y) = 1 bit sits in the bottom {0}{1}{2}.
    table = np.zeros((2, 2, 2, 2))
    table[0, 0, 0, 0] = table[1, 1, 1, 1] = 0.5
    result = decompose(table, "imin")
    np.testing.assert_allclose(result.redundancy, 1.0, atol=1e-12)
    np.testing.assert_allclose(sum(result.atoms.values()), 1.0, atol=1e-12)
    np.testing.assert_allclose(wms(table), -2.0, atol=1e-12)


def test_grouped_sources_act_as_one_variable() -> None:
    # COPY with its sources given as one group each is the 2-source COPY; grouping X1 and
    # X2 of XOR3 together leaves a 2-source XOR between (X1, X2) and X3 ... whose atoms
    # are again pure synergy.
    result = decompose(XOR3, "imin", sources=[(0, 1), (2,)])
    np.testing.assert_allclose(result.synergy, 1.0, atol=1e-12)
    np.testing.assert_allclose(result.redundancy, 0.0, atol=1e-12)
    # Marginalising an axis that is in no source: XOR3 without X3 says nothing about Y.
    np.testing.assert_allclose(
        decompose(XOR3, "imin", sources=[0, 1]).mutual_information, 0.0, atol=1e-12
    )


def test_base_scales_every_atom() -> None:
    in_bits = decompose(AND, "imin")
    in_nats = decompose(AND, "imin", base=math.e)
    for node, value in in_bits.atoms.items():
        np.testing.assert_allclose(in_nats.atoms[node], value * math.log(2), atol=1e-12)
    assert in_nats.base == pytest.approx(math.e)
    np.testing.assert_allclose(s_max(AND, base=math.e), 0.5 * math.log(2), atol=1e-12)


def test_result_is_frozen_and_readable() -> None:
    result = decompose(AND, "imin")
    with pytest.raises(AttributeError):
        result.synergy = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.atoms[((0,),)] = 1.0  # type: ignore[index]
    text = str(result)
    assert "{0}{1}" in text
    assert "{0,1}" in text
    assert "0.311278" in text
    assert "bits" in text
    html = result._repr_html_()
    assert html.startswith("<table>")
    assert "{0}{1}" in html


@pytest.mark.parametrize("solver", [None, "cvxpy"])
def test_broja_from_union_information(solver: str | None) -> None:
    # Bertschinger et al. (2014), Table 1: BROJA on AND gives shared 0.311, unique 0,
    # synergy 0.5; on COPY shared 0, unique 1 bit each, synergy 0.
    pytest.importorskip("synergy.pid.vk")
    pytest.importorskip("cvxpy")
    # The conic solvers certify to about 1e-9 bits: a tol they meet, so no warning.
    tol = None if solver is None else 1e-8
    result = decompose(AND, "broja", solver=solver, tol=tol)
    np.testing.assert_allclose(result.redundancy, AND_REDUNDANCY, atol=1e-6)
    np.testing.assert_allclose(result.unique, (0.0, 0.0), atol=1e-6)
    np.testing.assert_allclose(result.synergy, 0.5, atol=1e-6)
    assert result.measure == "broja"
    copy = decompose(COPY, "vk", solver=solver, tol=tol)
    np.testing.assert_allclose(copy.redundancy, 0.0, atol=1e-6)
    np.testing.assert_allclose(copy.unique, (1.0, 1.0), atol=1e-6)
    np.testing.assert_allclose(copy.synergy, 0.0, atol=1e-6)
    np.testing.assert_allclose(sum(copy.atoms.values()), 2.0, atol=1e-6)


def test_broja_takes_tol_and_max_iter() -> None:
    pytest.importorskip("cvxpy")
    import warnings

    from synergy import SynergyConvergenceWarning
    from synergy.pid import union_information

    p = np.random.default_rng(7).dirichlet(np.ones(18)).reshape(3, 3, 2)
    # The independent answer: the Newton solver at its defaults (gap <= 1e-10 bits).
    newton = union_information(p)
    assert newton.gap <= 1e-10
    # The conic solvers certify to about 1e-9 bits: a loosened tol is met without a warning,
    # and the gap is reported in the unit of base within it.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynergyConvergenceWarning)
        conic = decompose(p, "broja", solver="cvxpy", tol=1e-7, base=math.e)
    assert conic.status == "optimal"
    assert conic.gap is not None
    assert 0.0 <= conic.gap <= 1e-7
    np.testing.assert_allclose(conic.synergy, newton.synergy * math.log(2), atol=1e-7)
    # max_iter reaches the solver, alone and over a batch.
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        short = decompose(np.stack([p, p]), "vk", solver="dedicated", max_iter=1, batch_ndim=1)
    assert (short.status != "optimal").all()
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        one = decompose(p, "broja", solver="dedicated", max_iter=1)
    assert one.status != "optimal"


def test_source_order_follows_the_sources_argument() -> None:
    # UNQ: Y = X1. Listing the sources as [1, 0] makes source 0 the useless X2.
    result = decompose(UNQ, "imin", sources=[1, 0])
    np.testing.assert_allclose(result.unique, (0.0, 1.0), atol=1e-12)
    assert result.sources == ((1,), (0,))
    np.testing.assert_allclose(i_min(UNQ, [0]), 1.0, atol=1e-12)  # one source: I(X1;Y)
    np.testing.assert_allclose(wms(UNQ, [0]), 0.0, atol=1e-12)
