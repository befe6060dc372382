"""Tests of union information / S_VK: literature gates, solver agreement, bounds, invariances."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import entr

from synergy._validate import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    SynergyConvergenceWarning,
)
from synergy.pid.vk import UnionInformation, s_vk, union_information

# Both interior-point solvers (Newton and the cvxpy references) meet the marginals and the
# optimum to ~1e-10 bits; 1e-8 leaves room for the conic solvers' own tolerances.
AGREE = 1e-8


def _gate(fn, n_inputs=2, n_y=2):
    """Uniform inputs, deterministic Y = fn(*x): shape (2,) * n_inputs + (n_y,)."""
    p = np.zeros((2,) * n_inputs + (n_y,))
    for x in itertools.product(range(2), repeat=n_inputs):
        p[(*x, fn(*x))] += 1 / 2**n_inputs
    return p


XOR = _gate(lambda a, b: a ^ b)
AND = _gate(lambda a, b: a & b)
RDN = np.zeros((2, 2, 2))
RDN[0, 0, 0] = RDN[1, 1, 1] = 0.5
UNQ = _gate(lambda a, b: a)
COPY = _gate(lambda a, b: 2 * a + b, n_y=4)
XOR3 = _gate(lambda a, b, c: a ^ b ^ c, n_inputs=3)


def _h(p):
    return float(entr(p).sum() / math.log(2))


def _mi(p):
    """I(X; Y) in bits, X = every axis but the last."""
    return _h(p.sum(axis=-1)) + _h(p.sum(axis=tuple(range(p.ndim - 1)))) - _h(p)


def _source_joint(p, i):
    """P(X_i, Y) of a table whose sources are its leading axes."""
    return p.sum(axis=tuple(j for j in range(p.ndim - 1) if j != i))


def _wms(p):
    return _mi(p) - sum(_mi(_source_joint(p, i)) for i in range(p.ndim - 1))


def _s_max(p):
    """S_max = I(X; Y) - sum_y p(y) max_i D_KL[P(X_i | y) || P(X_i)] (Griffith & Koch 2014)."""
    py = p.sum(axis=tuple(range(p.ndim - 1)))
    spec = []
    for i in range(p.ndim - 1):
        pxy = _source_joint(p, i)
        px = pxy.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = np.where(py > 0, pxy / np.where(py > 0, py, 1.0), 0.0)
            kl = np.where(
                cond > 0, cond * np.log2(np.where(cond > 0, cond, 1.0) / px[:, None]), 0.0
            )
        spec.append(kl.sum(axis=0))
    return _mi(p) - float((py * np.max(spec, axis=0)).sum())


def _random_table(rng, shape, zero_fraction=0.0):
    p = rng.dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)
    if zero_fraction:
        p[rng.random(shape) < zero_fraction] = 0.0
        if p.sum() == 0:
            p.flat[0] = 1.0
        p /= p.sum()
    return p


# ---------------------------------------------------------------- literature values


@pytest.mark.parametrize("solver", ["newton", "cvxpy-ecos", "cvxpy-clarabel"])
@pytest.mark.parametrize(
    ("name", "p", "synergy", "unique", "shared"),
    [
        # XOR: all 1 bit is synergy (Bertschinger et al. 2014, Entropy 16:2161, Sec. 5, XOR).
        ("XOR", XOR, 1.0, (0.0, 0.0), 0.0),
        # AND: SI = 3/4 log2(4/3) = 0.311 bit, UI = 0, CI = 0.5 bit
        # (Bertschinger et al. 2014, Sec. 5, AND; Griffith & Koch 2014 give the same).
        ("AND", AND, 0.5, (0.0, 0.0), 0.75 * math.log2(4 / 3)),
        # RDN: Y = X1 = X2, 1 bit shared, nothing else (Bertschinger et al. 2014, RDN).
        ("RDN", RDN, 0.0, (0.0, 0.0), 1.0),
        # UNQ: Y = X1 with X2 independent: 1 bit unique to X1 (Bertschinger et al. 2014, UNQ).
        ("UNQ", UNQ, 0.0, (1.0, 0.0), 0.0),
        # COPY: Y = (X1, X2): 1 bit unique each, no synergy, no shared
        # (Bertschinger et al. 2014, Sec. 5; Harder et al. 2013 would say 1 bit shared).
        ("COPY", COPY, 0.0, (1.0, 1.0), 0.0),
    ],
)
def test_bivariate_gates(name, p, synergy, unique, shared, solver):
    tol = 1e-9 if solver == "newton" else AGREE
    # The conic solvers certify to about 1e-9 bits: ask them for what they can prove.
    res = union_information(p, solver=solver, **({} if solver == "newton" else {"tol": tol}))
    assert res.status == "optimal", name
    np.testing.assert_allclose(res.synergy, synergy, atol=tol)
    np.testing.assert_allclose(res.unique, unique, atol=tol)
    np.testing.assert_allclose(res.shared, shared, atol=tol)
    np.testing.assert_allclose(res.mutual_information, _mi(p), atol=1e-12)
    np.testing.assert_allclose(res.value + res.synergy, res.mutual_information, atol=1e-12)


def test_three_source_xor():
    # 3-bit parity: no pair or single input says anything about Y, so I_VK = 0 and S_VK = 1
    # bit (every Q matching the pairwise-with-Y marginals may make Y independent of X).
    res = union_information(XOR3)
    np.testing.assert_allclose(res.synergy, 1.0, atol=1e-9)
    assert res.unique is None
    assert res.shared is None
    np.testing.assert_allclose(
        union_information(XOR3, solver="cvxpy-ecos").synergy, 1.0, atol=AGREE
    )


def test_s_vk_shortcut_and_base():
    np.testing.assert_allclose(s_vk(AND), 0.5, atol=1e-9)
    np.testing.assert_allclose(s_vk(AND, base=math.e), 0.5 * math.log(2), atol=1e-9)
    res = union_information(AND, base=math.e)
    np.testing.assert_allclose(res.mutual_information, _mi(AND) * math.log(2), atol=1e-12)
    assert res.base == pytest.approx(math.e)


def test_repr_is_readable():
    text = repr(union_information(AND))
    assert text.startswith("UnionInformation(value=")
    assert "solver='newton'" in text
    assert "gap=" in text
    assert isinstance(union_information(AND), UnionInformation)


# ---------------------------------------------------------------- solver agreement


@pytest.mark.parametrize("zero_fraction", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 3, 3), (4, 3, 5), (6, 6, 6), (2, 3, 2, 3)])
def test_newton_agrees_with_cvxpy(shape, zero_fraction):
    rng = np.random.default_rng(abs(hash((shape, zero_fraction))) % 2**32)
    for _ in range(3):
        p = _random_table(rng, shape, zero_fraction)
        newton = union_information(p, solver="newton")
        ecos = union_information(p, solver="cvxpy-ecos")
        assert newton.status == "optimal"
        assert newton.solver == "newton"
        assert ecos.solver == "cvxpy-ecos"
        np.testing.assert_allclose(newton.value, ecos.value, atol=AGREE)
        # The certificate: the Newton value sits within its own gap above a proven bound.
        assert 0.0 <= newton.gap <= 1e-10
        assert ecos.value >= newton.value - newton.gap - AGREE


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 2, 2, 2)])
def test_clarabel_agrees(shape):
    rng = np.random.default_rng(7)
    p = _random_table(rng, shape)
    np.testing.assert_allclose(
        union_information(p, solver="newton").value,
        union_information(p, solver="cvxpy-clarabel").value,
        atol=AGREE,
    )


def test_cvxpy_picks_a_named_solver():
    res = union_information(AND, solver="cvxpy")
    assert res.solver in ("cvxpy-clarabel", "cvxpy-ecos")


def test_optimal_q_is_feasible():
    rng = np.random.default_rng(3)
    for shape in [(4, 4, 4), (3, 2, 4, 2)]:
        p = _random_table(rng, shape, 0.25)
        res = union_information(p)
        q = res.q
        assert q.shape == p.shape
        assert (q >= 0).all()
        for i in range(p.ndim - 1):
            np.testing.assert_allclose(_source_joint(q, i), _source_joint(p, i), atol=1e-9)
        # Cells that P(x_i, y) = 0 rules out stay exactly zero.
        for i in range(p.ndim - 1):
            view = [1] * p.ndim
            view[i] = p.shape[i]
            view[-1] = p.shape[-1]
            forced = (_source_joint(p, i) == 0).reshape(view) & np.ones(p.shape, bool)
            assert (q[forced] == 0).all()
        np.testing.assert_allclose(_mi(q), res.value, atol=1e-9)


# ---------------------------------------------------------------- properties


def _tables(max_side=4, max_sources=3):
    @st.composite
    def build(draw):
        k = draw(st.integers(2, max_sources))
        sides = [draw(st.integers(1, max_side)) for _ in range(k)]
        shape = (*sides, draw(st.integers(2, max_side)))
        seed = draw(st.integers(0, 2**32 - 1))
        zero_fraction = draw(st.sampled_from([0.0, 0.0, 0.3, 0.6]))
        return _random_table(np.random.default_rng(seed), shape, zero_fraction)

    return build()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_bounds(p):
    # DESIGN.md: max(0, WMS) <= S_VK <= S_max <= I(X; Y).
    res = union_information(p)
    tol = 1e-9
    assert res.status == "optimal"
    assert res.synergy >= max(0.0, _wms(p)) - tol
    assert res.synergy <= _s_max(p) + tol
    assert _s_max(p) <= _mi(p) + tol
    assert -tol <= res.gap <= 1e-10


@settings(max_examples=25, deadline=None)
@given(_tables(max_sources=2), st.integers(0, 2**32 - 1))
def test_invariant_to_swapping_sources_and_relabelling(p, seed):
    rng = np.random.default_rng(seed)
    base = union_information(p)
    swapped = union_information(np.swapaxes(p, 0, 1))
    np.testing.assert_allclose(swapped.synergy, base.synergy, atol=1e-9)
    np.testing.assert_allclose(swapped.unique, base.unique[::-1], atol=1e-9)
    np.testing.assert_allclose(swapped.shared, base.shared, atol=1e-9)
    relabelled = p
    for axis in range(p.ndim):
        relabelled = np.take(relabelled, rng.permutation(p.shape[axis]), axis=axis)
    np.testing.assert_allclose(union_information(relabelled).synergy, base.synergy, atol=1e-9)
    # Order of sources given explicitly is the same as reordering axes.
    np.testing.assert_allclose(
        union_information(p, sources=[1, 0]).synergy, base.synergy, atol=1e-9
    )


def test_source_groups_merge_axes():
    rng = np.random.default_rng(11)
    p = _random_table(rng, (2, 3, 2, 3))
    grouped = union_information(p, sources=[(0, 1), (2,)])
    merged = union_information(p.reshape(6, 2, 3))
    np.testing.assert_allclose(grouped.synergy, merged.synergy, atol=1e-9)
    assert grouped.q.shape == (6, 2, 3)
    # An axis in no group is marginalised out.
    np.testing.assert_allclose(
        union_information(p, sources=[0, 2]).synergy,
        union_information(p.sum(axis=1)).synergy,
        atol=1e-9,
    )


@pytest.mark.parametrize(
    "p",
    [
        # Deterministic Y = X1 + X2 over three symbols each side.
        np.array(
            [
                [[1 / 9 if a + b == y else 0.0 for y in range(5)] for b in range(3)]
                for a in range(3)
            ]
        ),
        # Y independent of X: I(X; Y) = 0.
        np.einsum("i,j,k->ijk", [0.2, 0.8], [0.5, 0.3, 0.2], [0.6, 0.4]),
        # Unused symbols in both sources and in Y.
        np.pad(AND, ((0, 1), (0, 2), (0, 1))),
        # A single target symbol.
        np.full((2, 3, 1), 1 / 6),
        # One point mass.
        np.pad(np.ones((1, 1, 1)), ((0, 2), (0, 1), (0, 2))),
    ],
    ids=["deterministic-sum", "independent", "unused-symbols", "one-y", "point-mass"],
)
def test_degenerate_tables(p):
    res = union_information(p)
    cvx = union_information(p, solver="cvxpy-ecos")
    assert res.status == "optimal"
    np.testing.assert_allclose(res.value, cvx.value, atol=AGREE)
    assert res.synergy >= max(0.0, _wms(p)) - 1e-9
    assert res.synergy <= _mi(p) + 1e-9


def test_and_optimum_empties_blocks():
    # The AND optimum is unique (Bertschinger et al. 2014, Sec. 5): Q(0,0,0) = 1/2,
    # Q(1,1,0) = Q(1,1,1) = 1/4, so the blocks x = (0,1) and (1,0) are empty.
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0] = 0.5
    expected[1, 1, 0] = expected[1, 1, 1] = 0.25
    np.testing.assert_allclose(union_information(AND).q, expected, atol=1e-9)


def test_one_symbol_sources_need_no_solver():
    # A source with one used symbol only restates P(y); with fewer than two informative
    # sources left, Q = P is the only feasible Q.
    p = np.zeros((1, 3, 2))
    p[0] = [[0.2, 0.1], [0.3, 0.1], [0.1, 0.2]]
    res = union_information(p)
    assert res.solver == "closed-form"
    np.testing.assert_allclose(res.q, p, atol=0)
    np.testing.assert_allclose(res.synergy, 0.0, atol=1e-12)


def test_independent_has_no_information():
    p = np.einsum("i,j,k->ijk", [0.2, 0.8], [0.5, 0.3, 0.2], [0.6, 0.4])
    res = union_information(p)
    np.testing.assert_allclose([res.value, res.synergy], [0.0, 0.0], atol=1e-10)


def test_auto_falls_back_to_cvxpy_with_a_warning():
    rng = np.random.default_rng(5)
    p = _random_table(rng, (4, 4, 4))
    # One iteration each for Newton and for the cvxpy fallback: neither can certify, both
    # say so, and the answer still brackets the optimum (the converged default solve).
    with pytest.warns(SynergyConvergenceWarning, match="max_iter") as record:
        res = union_information(p, solver="auto", max_iter=1)
    messages = [str(w.message) for w in record]
    assert any("Falling back to cvxpy" in m for m in messages)
    assert any("cvxpy fallback" in m for m in messages)
    assert res.status != "optimal"
    exact = union_information(p)
    assert exact.gap <= 1e-10
    assert res.value >= exact.value - 1e-12
    assert res.value - res.gap <= exact.value + 1e-12


def test_fallback_keeps_the_better_certificate():
    # Dirichlet(0.1) entries span ~30 orders of magnitude; on this table rounding stalls the
    # Newton certificate (6e-9 bits), cvxpy's fitted answer certifies 1.3e-9 bits, and the
    # two bounds together 4.4e-10 bits (numba 0.68, Clarabel 0.11).
    p = np.random.default_rng(112).dirichlet(np.full(27, 0.1)).reshape(3, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        newton = union_information(p, solver="dedicated")
        conic = union_information(p, solver="cvxpy")
        auto = union_information(p, solver="auto")
    if newton.status == "optimal":  # nothing to fall back from (other numerics)
        assert (auto.value, auto.gap, auto.solver) == (newton.value, newton.gap, "newton")
        return
    # Both answers bound the same optimum: the lower upper bound and the higher lower bound.
    lower = max(newton.value - newton.gap, conic.value - conic.gap)
    assert auto.value == min(newton.value, conic.value)
    np.testing.assert_allclose(auto.value - auto.gap, lower, rtol=0, atol=1e-15)
    assert auto.gap <= min(newton.gap, conic.gap) + 1e-15


def test_dedicated_does_not_fall_back():
    rng = np.random.default_rng(5)
    p = _random_table(rng, (4, 4, 4))
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        res = union_information(p, solver="dedicated", max_iter=1)
    assert res.solver == "newton"
    assert res.status == "iteration limit"


def test_converged_solve_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        union_information(AND)


def test_s_vk_takes_tol_and_max_iter():
    rng = np.random.default_rng(5)
    p = _random_table(rng, (4, 4, 4))
    # max_iter reaches the solver: one Newton iteration cannot certify this table.
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        short = s_vk(p, solver="dedicated", max_iter=1)
    reference = union_information(p)  # Newton at its defaults, certified to 1e-10 bits
    assert reference.gap <= 1e-10
    assert short <= reference.synergy + 1e-12  # an upper bound on I_VK: synergy from below
    # tol reaches it too: the conic solvers certify to about 1e-9 bits, short of the default
    # 1e-10 (a warning), and within a loosened tol without one. Their answer is checked
    # against the Newton solver's, an independent method.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynergyConvergenceWarning)
        conic = s_vk(p, solver="cvxpy", tol=1e-6)
    np.testing.assert_allclose(conic, reference.synergy, atol=1e-6)
    batch = s_vk(np.stack([p, p]), solver="dedicated", tol=1e-6, batch_ndim=1)
    np.testing.assert_allclose(batch, reference.synergy, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tol": -1.0}, InvalidParameterError, "`tol`"),
        ({"tol": float("nan")}, InvalidParameterError, "`tol`"),
        ({"tol": "small"}, InvalidTypeError, "`tol`"),
        ({"max_iter": 0}, InvalidParameterError, "`max_iter`"),
        ({"max_iter": 2.5}, InvalidTypeError, "`max_iter`"),
        ({"max_iter": True}, InvalidTypeError, "`max_iter`"),
    ],
)
def test_s_vk_bad_solver_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        s_vk(AND, **kwargs)


# ---------------------------------------------------------------- dit cross-check

dit = pytest.importorskip("dit")


def _to_dit(p):
    outcomes, pmf = [], []
    for idx in zip(*np.nonzero(p), strict=True):
        outcomes.append(tuple(int(i) for i in idx))
        pmf.append(float(p[idx]))
    return dit.Distribution(outcomes, pmf)


@pytest.mark.parametrize("seed", range(4))
def test_against_dit_broja_cone(seed):
    # dit 2.3, dit.pid.PID_BROJA(d, method="cone") (ECOS exponential cone, Makkeh et al.
    # 2018): reliable on small tables. dit's default path (SLSQP) stops early, so not that.
    rng = np.random.default_rng(100 + seed)
    p = _random_table(rng, (3, 3, 3), 0.2 if seed % 2 else 0.0)
    pid = dit.pid.PID_BROJA(_to_dit(p), [[0], [1]], [2], method="cone")
    res = union_information(p)
    np.testing.assert_allclose(res.synergy, pid.get_pi(((0, 1),)), atol=1e-6)
    np.testing.assert_allclose(res.unique[0], pid.get_pi(((0,),)), atol=1e-6)
    np.testing.assert_allclose(res.shared, pid.get_pi(((0,), (1,))), atol=1e-6)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sources": [0]}, InvalidParameterError, "at least 2 source groups"),
        ({"sources": [(0, 1), (1,)]}, InvalidParameterError, "disjoint"),
        ({"sources": [0, 2]}, InvalidParameterError, "target"),
        ({"sources": [0, 5]}, InvalidParameterError, "range"),
        ({"sources": "01"}, InvalidTypeError, "sources"),
        ({"solver": "mosek"}, InvalidParameterError, "`solver`"),
        ({"solver": 3}, InvalidTypeError, "`solver`"),
        ({"tol": -1.0}, InvalidParameterError, "`tol`"),
        ({"tol": "small"}, InvalidTypeError, "`tol`"),
        ({"max_iter": 0}, InvalidParameterError, "`max_iter`"),
        ({"max_iter": 2.5}, InvalidTypeError, "`max_iter`"),
        ({"base": 1}, InvalidParameterError, "`base`"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        union_information(AND, **kwargs)


def test_bad_tables():
    with pytest.raises(InvalidDistributionError, match="summing to 1"):
        union_information(AND * 2)
    with pytest.raises(InvalidDistributionError, match="non-negative"):
        union_information(AND - 0.1)
    with pytest.raises(InvalidParameterError, match="at least 2 source groups"):
        union_information(np.full((2, 2), 0.25))


# ---------------------------------------------------------------- BLAS threads


def _blas_threads():
    """BLAS thread count of every loaded BLAS library, by path."""
    from threadpoolctl import threadpool_info

    return {
        lib["filepath"]: lib["num_threads"]
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    }


def _record_threads_in_solve(monkeypatch, kernel="solve_dual"):
    """Wrap a Newton kernel so that each call records the BLAS thread counts it ran with."""
    import synergy.pid.vk as vk_module

    seen = []
    inner = getattr(vk_module, kernel)

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(vk_module, kernel, spy)
    return seen


def test_large_solve_bounds_blas_threads_and_restores_them(monkeypatch):
    from threadpoolctl import threadpool_limits

    seen = _record_threads_in_solve(monkeypatch)
    # n = 12: the Newton system has 264 rows, past the sizes that reach BLAS.
    p = _random_table(np.random.default_rng(12), (12, 12, 12))
    with threadpool_limits(limits=2, user_api="blas"):
        caller = _blas_threads()
        res = union_information(p)
        after = _blas_threads()
    assert res.status == "optimal"
    assert seen
    assert all(set(threads.values()) == {1} for threads in seen)
    assert after == caller  # the caller's setting, restored library by library


def test_small_solve_leaves_blas_threads_alone(monkeypatch):
    from threadpoolctl import threadpool_limits

    # A small table is solved by the batched kernel (a batch of one), not by solve_dual.
    seen = _record_threads_in_solve(monkeypatch, "solve_batch")
    never = _record_threads_in_solve(monkeypatch, "solve_dual")
    with threadpool_limits(limits=2, user_api="blas"):
        caller = _blas_threads()
        union_information(_random_table(np.random.default_rng(2), (3, 3, 3)))
    assert seen
    assert not never
    assert all(threads == caller for threads in seen)


def test_nested_bounds_restore_once_the_last_leaves():
    from threadpoolctl import threadpool_limits

    import synergy.pid.vk as vk_module

    with threadpool_limits(limits=2, user_api="blas"):
        caller = _blas_threads()
        with vk_module._bounded_blas(True):
            with vk_module._bounded_blas(True):
                assert set(_blas_threads().values()) == {1}
            assert set(_blas_threads().values()) == {1}  # the outer solve still runs
        assert _blas_threads() == caller


def test_threadpoolctl_is_imported_only_by_a_large_solve():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, synergy;"
        "p = np.random.default_rng(0).dirichlet(np.ones(27)).reshape(3, 3, 3);"
        "synergy.union_information(p);"
        "small = 'threadpoolctl' in sys.modules;"
        "p = np.random.default_rng(0).dirichlet(np.ones(1728)).reshape(12, 12, 12);"
        "synergy.union_information(p);"
        "print(small, 'threadpoolctl' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_small_table_compiles_only_the_batched_solver():
    # A first s_vk on a small table runs the batched kernel (a batch of one): the blocked
    # solver, the costliest compile of the library (benchmarks/RESULTS.md, cold start), is
    # neither compiled nor loaded from the cache for it.
    import subprocess
    import sys

    code = (
        "import synergy, synergy._tier as t;"
        "import synergy.pid._vk_solver as s, synergy.pid._vk_batch as b;"
        "from synergy.testing import AND;"
        # Past the interpreted tier's budget, so that the batched kernel compiles (or loads).
        "t.INTERPRETED_BUDGET = 0.0;"
        "synergy.s_vk(AND);"
        "print(len(b._solve_tables.signatures), len(s.solve_dual.signatures))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "0"]
