"""The S_VK certificate against an independent proven interval, on hard tables.

Every answer of ``union_information`` claims ``value - gap <= I_VK <= value``. Here each claim
is checked against an interval computed without the solver's own code: an upper bound on I_VK
from a feasible Q (a cvxpy solution of a separately written programme, refitted to the
marginals in numpy) and a lower bound from the multipliers of the marginal constraints
(cvxpy's equality duals, shifted to dual feasibility). Sparse (Dirichlet(0.05-0.2), random
zero cells) and near-deterministic tables, two and three sources, are where rounding and the
boundary of the feasible set make certificates hard.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, xlogy

from synergy._validate import SynergyConvergenceWarning
from synergy.pid import decompose
from synergy.pid.vk import union_information

cp = pytest.importorskip("cvxpy")

LN2 = math.log(2.0)
# Slack for rounding in the two sums that make an interval end (f(Q) and b.lam of a few
# dozen terms of size <= 1 in float64: about 1e-14 nats), in bits.
ROUND = 1e-12
# The default tolerance of union_information, in bits.
TOL = 1e-10
# "Meets the marginals to rounding": a few ulps of each P(x_i, y) (float64 eps = 2.2e-16),
# and a few ulps of the table's total mass 1 (the sources' sums over x_i of one p(y),
# taken in different orders, differ by that much).
FEASIBLE_RTOL = 1e-14
FEASIBLE_ATOL = 1e-15


# ----------------------------------------------------------------------- the reference


def _marginals(q: np.ndarray) -> list[np.ndarray]:
    """P(X_i, Y) of every source i (sources are the leading axes, target last)."""
    k = q.ndim - 1
    return [q.sum(axis=tuple(j for j in range(k) if j != i)) for i in range(k)]


def _allowed(p: np.ndarray) -> np.ndarray:
    """Cells (x, y) with P(x_i, y) > 0 for every i: the only cells a feasible Q may use."""
    k = p.ndim - 1
    mask = np.ones(p.shape, dtype=bool)
    for i, m in enumerate(_marginals(p)):
        view = [1] * p.ndim
        view[i], view[-1] = p.shape[i], p.shape[-1]
        mask &= (m > 0).reshape(view)
    assert k >= 2
    return mask


def _f(q: np.ndarray) -> float:
    """sum q log(q / q(x)) in nats, 0 log 0 = 0 (I_Q(X; Y) - H(Y))."""
    qx = q.sum(axis=-1, keepdims=True)
    return float((xlogy(q, q) - xlogy(q, np.broadcast_to(qx, q.shape))).sum())


def _h(v: np.ndarray) -> float:
    return float(-xlogy(v, v).sum())


def _feasible(q: np.ndarray, p: np.ndarray, sweeps: int = 2000) -> np.ndarray:
    """A Q >= 0 meeting every P(X_i, Y) to rounding, near ``q``.

    Iterative proportional fitting in numpy, then an exact repair of what is left: shrink each
    cell until no marginal is exceeded, and add the product table of the (non-negative,
    consistent) remainders, which meets them exactly. Every step keeps Q on the allowed cells.
    """
    k = p.ndim - 1
    q = np.where(_allowed(p), np.clip(q, 0.0, None), 0.0)
    targets = _marginals(p)
    for _ in range(sweeps):
        for i in range(k):
            m = _marginals(q)[i]
            ratio = np.divide(targets[i], m, out=np.zeros_like(m), where=m > 0)
            view = [1] * p.ndim
            view[i], view[-1] = p.shape[i], p.shape[-1]
            q = q * ratio.reshape(view)
        worst = max(np.abs(m - t).max() for m, t in zip(_marginals(q), targets, strict=True))
        if worst <= 1e-17:
            break
    shrink = np.ones(p.shape)
    for i, (m, t) in enumerate(zip(_marginals(q), targets, strict=True)):
        ratio = np.divide(t, m, out=np.ones_like(m), where=m > t)
        view = [1] * p.ndim
        view[i], view[-1] = p.shape[i], p.shape[-1]
        shrink = np.minimum(shrink, np.minimum(ratio, 1.0).reshape(view))
    q = q * shrink
    rest = [np.clip(t - m, 0.0, None) for m, t in zip(_marginals(q), targets, strict=True)]
    fill = np.ones(p.shape)
    for i, r in enumerate(rest):
        view = [1] * p.ndim
        view[i], view[-1] = p.shape[i], p.shape[-1]
        # Each source's remainders sum to the same p(y) - Q(y) up to rounding; dividing by
        # that source's own sum keeps every factor <= 1 where the sums are rounding noise.
        r_y = r.sum(axis=0)
        share = r if i == 0 else np.divide(r, r_y, out=np.zeros_like(r), where=r_y > 0)
        fill = fill * share.reshape(view)
    return q + fill


def _dual_bound(lam: list[np.ndarray], p: np.ndarray) -> float:
    """A lower bound on min f from multipliers lam_i(x_i, y), made feasible by a shift.

    Weak duality: for c(x, y) = sum_i lam_i(x_i, y) with logsumexp over each block's allowed y
    at most 0, f(Q) >= <c, Q> = sum_i <lam_i, P(X_i, Y)> for every feasible Q. Lowering
    lam_1(x_1, .) by the worst excess over the blocks with that x_1 makes any lam feasible.
    """
    allowed = _allowed(p)
    c = np.zeros(p.shape)
    for i, li in enumerate(lam):
        view = [1] * p.ndim
        view[i], view[-1] = p.shape[i], p.shape[-1]
        c = c + li.reshape(view)
    with np.errstate(divide="ignore"):
        excess = logsumexp(np.where(allowed, c, -np.inf), axis=-1)  # -inf on empty blocks
    shift = np.max(excess.reshape(p.shape[0], -1), axis=1)
    shift = np.where(np.isfinite(shift), np.maximum(shift, 0.0), 0.0)
    margs = _marginals(p)
    value = sum(float((li * m).sum()) for li, m in zip(lam, margs, strict=True))
    return value - float((shift * margs[0].sum(axis=1)).sum())


def reference_interval(p: np.ndarray) -> tuple[float, float]:
    """[lower, upper] on I_VK in bits, from cvxpy (Clarabel) and numpy only.

    The programme is written here over the full table (every source's every marginal row),
    not taken from the library, and only its primal and equality duals are used.
    """
    allowed = _allowed(p)
    cells = np.flatnonzero(allowed)
    n_x = int(np.prod(p.shape[:-1]))
    qv = cp.Variable(cells.size, nonneg=True)
    scatter = np.zeros((p.size, cells.size))
    scatter[cells, np.arange(cells.size)] = 1.0
    q_full = scatter @ qv
    blocks = np.kron(np.eye(n_x), np.ones((1, p.shape[-1])))  # (n_x, n_x * n_y)
    qx = cp.Variable(n_x, nonneg=True)
    constraints = [blocks @ q_full == qx]
    margs = _marginals(p)
    k = p.ndim - 1
    for i in range(k):
        # P(X_i, Y) as a linear map of the flattened table.
        onehot = np.zeros((p.shape[i] * p.shape[-1], p.size))
        index = np.indices(p.shape).reshape(p.ndim, -1)
        onehot[index[i] * p.shape[-1] + index[-1], np.arange(p.size)] = 1.0
        constraints.append(onehot @ q_full == margs[i].ravel())
    expand = np.repeat(np.eye(n_x), p.shape[-1], axis=0)[cells]
    objective = cp.Minimize(cp.sum(cp.rel_entr(qv, expand @ qx)))
    problem = cp.Problem(objective, constraints)
    try:
        # Tight settings narrow the interval; any primal and duals give valid bounds, so
        # cvxpy's "may be inaccurate" warning does not matter here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Solution may be inaccurate", UserWarning)
            problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        q_cells = np.asarray(qv.value, dtype=float)
        # cvxpy's equality duals enter its Lagrangian as +nu (A q - b): lam = -nu.
        lam = [
            -np.asarray(con.dual_value, dtype=float).reshape(p.shape[i], p.shape[-1])
            for i, con in enumerate(constraints[1:])
        ]
    except (cp.error.SolverError, TypeError, ValueError):
        q_cells = np.zeros(cells.size)
        lam = [np.zeros((p.shape[i], p.shape[-1])) for i in range(k)]
    if not np.all(np.isfinite(q_cells)):
        q_cells = np.zeros(cells.size)
    q = np.zeros(p.size)
    q[cells] = q_cells
    q = _feasible(q.reshape(p.shape), p)
    for got, want in zip(_marginals(q), margs, strict=True):
        np.testing.assert_allclose(got, want, rtol=FEASIBLE_RTOL, atol=FEASIBLE_ATOL)
    if not all(np.all(np.isfinite(li)) for li in lam):
        lam = [np.zeros((p.shape[i], p.shape[-1])) for i in range(k)]
    h_y = _h(p.sum(axis=tuple(range(k))))
    return (h_y + _dual_bound(lam, p)) / LN2, (h_y + _f(q)) / LN2


# ----------------------------------------------------------------------- the tables


def sparse_table(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Dirichlet(0.05-0.2) entries (spanning tens of orders of magnitude), some cells zero."""
    p = rng.dirichlet(np.full(int(np.prod(shape)), rng.uniform(0.05, 0.2))).reshape(shape)
    if rng.random() < 0.5:
        p[rng.random(shape) < rng.uniform(0.1, 0.4)] = 0.0
    if p.sum() == 0.0:
        p.flat[0] = 1.0
    return p / p.sum()


def near_deterministic_table(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Y a random function of X, mixed with noise of weight 1e-12 to 1e-4."""
    n_x = int(np.prod(shape[:-1]))
    exact = np.zeros((n_x, shape[-1]))
    exact[np.arange(n_x), rng.integers(0, shape[-1], n_x)] = 1.0
    exact *= rng.dirichlet(np.ones(n_x))[:, None]
    noise = rng.dirichlet(np.full(exact.size, 0.5)).reshape(exact.shape)
    weight = 10.0 ** rng.uniform(-12, -4)
    return ((1 - weight) * exact + weight * noise).reshape(shape)


SHAPES = [(2, 2, 2), (2, 3, 4), (3, 3, 3), (2, 2, 2, 2), (3, 2, 2, 2)]


def hard_tables(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for j in range(count):
        shape = SHAPES[j % len(SHAPES)]
        make = near_deterministic_table if rng.random() < 0.3 else sparse_table
        out.append(make(rng, shape))
    return out


# ----------------------------------------------------------------------- the checks


def check_answer(res, lower: float, upper: float, tol: float = TOL) -> None:
    """The contract of every answer, against the reference interval [lower, upper]."""
    assert math.isfinite(res.gap), res
    assert res.gap >= 0.0, res
    # value is an upper bound on I_VK: it cannot sit below a proven lower bound ...
    assert res.value >= lower - ROUND, (res, lower, upper)
    # ... and value - gap a lower bound: it cannot sit above a feasible point's value.
    assert res.value - res.gap <= upper + ROUND, (res, lower, upper)
    if res.status == "optimal":
        assert res.gap <= tol, res
    np.testing.assert_allclose(res.value + res.synergy, res.mutual_information, atol=1e-12)


def check_feasible(res, p: np.ndarray) -> None:
    """The returned Q meets every marginal of P to rounding."""
    for got, want in zip(_marginals(res.q), _marginals(p.reshape(res.q.shape)), strict=True):
        np.testing.assert_allclose(got, want, rtol=FEASIBLE_RTOL, atol=FEASIBLE_ATOL)


def _solve_quietly(p: np.ndarray, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynergyConvergenceWarning)
        return union_information(p, **kwargs)


def _check_tables(tables: list[np.ndarray], solvers: tuple[str, ...]) -> None:
    for p in tables:
        lower, upper = reference_interval(p)
        assert lower <= upper + ROUND, (lower, upper)  # the reference is itself consistent
        for solver in solvers:
            res = _solve_quietly(p, solver=solver)
            check_answer(res, lower, upper)
            check_feasible(res, p)


# The example of the issue: the dedicated solver reported synergy 1.32672e-05 bits with a gap
# of -3.03e-06 and status "optimal"; cvxpy's proven interval puts S_VK at 9.72331e-06.
ISSUE_TABLE = np.array(
    [
        1.7573271137507528e-07,
        3.2099014549583023e-07,
        9.2651440081235337e-01,
        3.9829906186183827e-03,
        6.7056207884850227e-02,
        2.4443172546580205e-03,
        7.6878606855045821e-18,
        1.5867066630926651e-06,
    ]
).reshape(2, 2, 2)


@pytest.mark.parametrize("solver", ["auto", "dedicated", "cvxpy"])
def test_issue_table_is_certified_honestly(solver):
    lower, upper = reference_interval(ISSUE_TABLE)
    res = _solve_quietly(ISSUE_TABLE, solver=solver)
    check_answer(res, lower, upper)
    check_feasible(res, ISSUE_TABLE)


def test_issue_table_through_decompose():
    lower, upper = reference_interval(ISSUE_TABLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynergyConvergenceWarning)
        pid = decompose(ISSUE_TABLE, "broja")
    assert math.isfinite(pid.gap)
    assert pid.gap >= 0.0
    synergy = pid.synergy
    mi = pid.mutual_information
    # S_VK = I(X; Y) - I_VK lies in [mi - upper, mi - lower]; the answer claims
    # [synergy, synergy + gap].
    assert synergy <= mi - lower + ROUND
    assert synergy + pid.gap >= mi - upper - ROUND
    if pid.status == "optimal":
        assert pid.gap <= TOL


def test_hard_tables():
    # 150 tables, 2 and 3 sources: the auto and dedicated paths (seconds).
    _check_tables(hard_tables(seed=2026, count=150), ("auto", "dedicated"))


def test_hard_tables_cvxpy():
    _check_tables(hard_tables(seed=77, count=40), ("cvxpy",))


@pytest.mark.slow
def test_thousands_of_hard_tables():
    _check_tables(hard_tables(seed=1, count=3000), ("auto", "dedicated", "cvxpy"))


def test_dirichlet_gap_is_never_negative_or_nan():
    # Dirichlet(0.1) 2x2x2 tables: before the fix 1.4% came back "optimal" with a negative
    # gap and 0.9% with gap nan (measured on 2,000 tables).
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = rng.dirichlet(np.full(8, 0.1)).reshape(2, 2, 2)
        res = _solve_quietly(p, solver="dedicated")
        assert math.isfinite(res.gap)
        assert res.gap >= 0.0
        if res.status == "optimal":
            assert res.gap <= TOL
        check_feasible(res, p)


@pytest.mark.parametrize("shape", [(2, 2, 2, 2), (2, 3, 2, 3), (2, 2, 2, 2, 2)])
def test_three_sources_tiny_target_value(shape):
    # p(y) < 1e-154 with three or more sources: prod_i P(x_i, y) / p(y)^(k-1) underflowed to
    # 0 / 0 and raised ZeroDivisionError.
    rng = np.random.default_rng(sum(shape))
    p = rng.dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)
    p[..., 1] *= 1e-170
    p /= p.sum()
    lower, upper = reference_interval(p)
    res = _solve_quietly(p)
    check_answer(res, lower, upper)
    check_feasible(res, p)


def test_cvxpy_honours_max_iter():
    # One conic iteration cannot reach the default tol: the answer must say so and not
    # run 200 iterations behind the caller's back.
    p = np.random.default_rng(5).dirichlet(np.ones(27)).reshape(3, 3, 3)
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        res = union_information(p, solver="cvxpy", max_iter=1)
    assert res.status != "optimal"
    assert res.iterations <= 1
    assert math.isfinite(res.gap)
    lower, upper = reference_interval(p)
    check_answer(res, lower, upper)


def test_newton_iteration_limit_is_honest():
    # Stopped after one Newton step: far from the optimum, but the bounds still hold.
    p = np.random.default_rng(5).dirichlet(np.ones(64)).reshape(4, 4, 4)
    with pytest.warns(SynergyConvergenceWarning, match="max_iter"):
        res = union_information(p, solver="dedicated", max_iter=1)
    assert res.status == "iteration limit"
    lower, upper = reference_interval(p)
    check_answer(res, lower, upper)
    check_feasible(res, p)
