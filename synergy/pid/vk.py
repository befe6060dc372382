"""S_VK and union information: the convex programme min I_Q(X; Y) over Q matching P(X_i, Y).

Two solvers with one answer: a dedicated primal-dual Newton method (numba) and the cvxpy reference.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from synergy._validate import (
    InvalidParameterError,
    InvalidTypeError,
    SynergyConvergenceWarning,
    as_table,
    check_base,
    describe,
    invalid,
    resolve_sources,
)
from synergy.pid._vk_solver import (
    FEASIBLE_TOL,
    Structure,
    bivariate_terms,
    build_structure,
    certify,
    feasible_point,
    objective,
    reaches_blas,
    solve_dual,
    table_entropies,
)

__all__ = ["UnionInformation", "s_vk", "union_information"]

_FUNC = "union_information"
_SOLVERS = ("auto", "dedicated", "newton", "cvxpy", "cvxpy-clarabel", "cvxpy-ecos", "cvxpy-scs")
_DEFAULT_TOL = 1e-10
_DEFAULT_MAX_ITER = 200
_IPF_SWEEPS = 200  # proportional-fitting sweeps before the exact repair of a conic Q
# SCS, a first-order method, runs this many of its cheap iterations per `max_iter` step.
_SCS_ITERATIONS_PER_STEP = 500
# Status of a conic solve that met the solver's own tolerances but not the certified `tol`.
_CONIC_SHORT = "gap above tol"


@dataclass(frozen=True)
class UnionInformation:
    """The optimum of the union-information programme and its certificate.

    Attributes
    ----------
    value : float
        I_VK({X_i}; Y) = min_Q I_Q(X; Y), in the unit of ``base``.
    synergy : float
        S_VK = I(X; Y) - I_VK, in the unit of ``base``.
    mutual_information : float
        I(X; Y) under P, in the unit of ``base``.
    q : ndarray of shape (n_1, ..., n_k, n_y)
        The optimal Q on the merged table (one axis per source group, target last).
    unique : tuple of float or None
        For two sources, the BROJA unique informations (UI_1, UI_2) = (I_Q(Y; X_1 | X_2),
        I_Q(Y; X_2 | X_1)); None for more sources.
    shared : float or None
        For two sources, the BROJA shared information I(X_1; Y) - UI_1; None otherwise.
    status : str
        "optimal" when ``gap <= tol``, and only then. Otherwise what happened: "iteration
        limit" or "stalled" (Newton), "gap above tol" (a conic solver met its own tolerances
        but not ``tol``), or the conic solver's status ("user_limit", ...).
    gap : float
        Proven duality gap, in the unit of ``base``: finite and >= 0 whatever the status, and
        ``value - gap <= I_VK <= value`` (so S_VK lies in ``[synergy, synergy + gap]``), to
        rounding. ``value`` is I_Q(X; Y) at a Q that meets every marginal P(X_i, Y) to
        rounding (the returned ``q``), ``value - gap`` a dual bound from multipliers shifted
        to feasibility.
    iterations : int
        Newton (or conic solver) iterations.
    solver : str
        The solver that produced the answer: "newton", "cvxpy-clarabel", "cvxpy-ecos" or
        "cvxpy-scs"; "closed-form" when fewer than two sources use two or more symbols
        (then Q = P is the only feasible Q and no solver runs).
    base : float
        The logarithm base of every value above.
    """

    value: float
    synergy: float
    mutual_information: float
    q: np.ndarray = field(repr=False)
    unique: tuple[float, ...] | None
    shared: float | None
    status: str
    gap: float
    iterations: int
    solver: str
    base: float = 2.0

    def __repr__(self) -> str:
        parts = [
            f"value={self.value:.12g}",
            f"synergy={self.synergy:.12g}",
            f"mutual_information={self.mutual_information:.12g}",
        ]
        if self.unique is not None:
            parts.append("unique=(" + ", ".join(f"{u:.12g}" for u in self.unique) + ")")
            parts.append(f"shared={self.shared:.12g}")
        parts += [
            f"status={self.status!r}",
            f"gap={self.gap:.3g}",
            f"iterations={self.iterations}",
            f"solver={self.solver!r}",
            f"base={self.base:g}",
            f"q.shape={self.q.shape}",
        ]
        return "UnionInformation(" + ", ".join(parts) + ")"


def _merge_sources(t: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Marginalise axes in no group, then merge each group into one axis (target last)."""
    target = t.ndim - 1
    if groups == tuple((a,) for a in range(target)):
        return np.ascontiguousarray(t)  # each axis its own source, already in order
    used = [a for g in groups for a in g]
    drop = tuple(a for a in range(target) if a not in used)
    if drop:
        t = t.sum(axis=drop, keepdims=True)
    order = [*used, target]
    t = np.transpose(t, order + list(drop))
    sizes = [int(np.prod([t.shape[order.index(a)] for a in g])) for g in groups]
    return np.ascontiguousarray(t.reshape(*sizes, t.shape[len(used)]))


def _check_options(solver: Any, tol: Any, max_iter: Any) -> str:
    if not isinstance(solver, str) or solver not in _SOLVERS:
        raise invalid(
            "solver",
            _FUNC,
            "one of " + ", ".join(repr(s) for s in _SOLVERS),
            describe(solver),
            kind=InvalidParameterError if isinstance(solver, str) else InvalidTypeError,
        )
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)):
        raise invalid("tol", _FUNC, "a positive real number", describe(tol), kind=InvalidTypeError)
    if not (math.isfinite(float(tol)) and float(tol) > 0):
        raise invalid("tol", _FUNC, "a finite positive real number", repr(tol))
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)):
        raise invalid(
            "max_iter", _FUNC, "a positive integer", describe(max_iter), kind=InvalidTypeError
        )
    if max_iter < 1:
        raise invalid("max_iter", _FUNC, "a positive integer", repr(max_iter))
    return "newton" if solver == "dedicated" else solver


def union_information(
    p: Any,
    sources: Any = None,
    *,
    base: float = 2,
    solver: str = "auto",
    tol: float = _DEFAULT_TOL,
    max_iter: int = _DEFAULT_MAX_ITER,
    validate: bool = True,
) -> UnionInformation:
    """Union information I_VK and synergy S_VK of sources about the last axis.

    Parameters
    ----------
    p : array_like of shape (n_1, ..., n_d, n_y)
        Joint probability table, target last.
    sources : sequence of int or of sequences of int, optional
        At least two disjoint source groups of axes (a group acts as one variable). Default:
        each axis but the last on its own. Axes in no group are marginalised out.
    base : float, keyword-only
        Logarithm base of every returned value (2: bits).
    solver : {"auto", "dedicated", "newton", "cvxpy", "cvxpy-clarabel", "cvxpy-ecos", \
"cvxpy-scs"}, keyword-only
        "auto" runs the dedicated Newton solver and, if it does not reach ``tol``, warns and
        falls back to cvxpy, keeping the better bounds of the two answers. "dedicated"
        (alias "newton") runs only the Newton solver. "cvxpy" runs the best installed conic
        solver (Clarabel, else ECOS).
    tol : float, keyword-only
        Proven duality gap to reach, in the unit of ``base``. The conic solvers run at
        tolerances of about 1e-10 nats and certify to about 1e-9 bits: below that they
        return status "gap above tol" with their proven gap.
    max_iter : int, keyword-only
        Iteration limit of each solver run: Newton's, Clarabel's and ECOS's (SCS, a
        first-order method, gets 500 of its iterations per unit of ``max_iter``).
    validate : bool, keyword-only
        Check ``p`` (finite, non-negative, sums to 1). Off for hot loops.

    Returns
    -------
    UnionInformation
        ``value`` (I_VK), ``synergy`` (S_VK), ``mutual_information``, the optimal ``q``, the
        two-source ``unique`` and ``shared`` informations, ``gap``, ``status``, ``solver``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources`` has fewer than two groups, overlapping or bad axes, or the target; or
        ``solver``, ``tol``, ``max_iter`` or ``base`` are not accepted values.
    ImportError
        If a cvxpy solver is asked for (or needed as the fallback) and cvxpy is missing.

    Warns
    -----
    SynergyConvergenceWarning
        When the solver stops before the gap meets ``tol`` (the answer is then still a proven
        interval, only wider than asked); it names the knob to turn.

    Notes
    -----
    I_VK({X_i}; Y) = min_{Q >= 0, Q(X_i, Y) = P(X_i, Y) for all i} I_Q(X; Y), and
    S_VK = I(X; Y) - I_VK. Since H_Q(Y) = H(Y) is fixed, the programme minimises
    f(Q) = sum_{x,y} Q(x,y) log(Q(x,y) / Q(x)) = -H_Q(Y | X), which is convex and positively
    1-homogeneous; its dual is max_lam sum_i sum_{x_i,y} lam_i(x_i,y) P(x_i,y) subject to
    logsumexp_y sum_i lam_i(x_i,y) <= 0 for every x. The Newton solver ("newton") runs a
    primal-dual interior-point method (Mehrotra predictor-corrector) on that dual, over the
    cells that P allows (P(x_i, y) > 0 for every i), with the block masses Q(x) as the
    multipliers: Q(x, y) = Q(x) softmax_y(sum_i lam_i(x_i, y)). Where the optimum sits on
    the boundary it empties whole blocks (Q(x) = 0: an inactive dual constraint, which the
    method handles without stalling). Each Newton step solves one dense system over the
    marginal constraints, with the first source's rows eliminated block by block. It stops
    on a certified gap, and every solver's answer carries one: the solver's Q is moved to a
    Q that meets every marginal to rounding (iterative proportional fitting, then an exact
    repair: cells scaled down until no marginal is exceeded, plus the product table of the
    remainders), so f(Q) >= min f; and lam, shifted to dual feasibility, gives
    b.lam <= min f. An iterate that misses the marginals is never evaluated as it is: its
    f can lie below the optimum. The two bounds are sums of different terms: where rounding
    puts f(Q) a few ulps below the dual bound the gap is reported as 0. When rounding stalls
    the gap short of ``tol`` (tables whose entries span many orders of magnitude), Newton
    restarts once from the uniform start and keeps the best bounds of both.
    Solves large enough to reach BLAS (from about 8 symbols per source) hold it to one
    thread while they run and then restore the caller's setting (threadpoolctl): threads
    buy little on systems of this size, and on a busy machine spinning BLAS threads made
    solves several times slower.
    For two sources S_VK is the BROJA synergy; UI_1 = I_Q(Y; X_1 | X_2) and
    SI = I(X_1; Y) - UI_1 at the optimum.

    References
    ----------
    N. Bertschinger, J. Rauh, E. Olbrich, J. Jost, N. Ay, "Quantifying unique information",
    Entropy 16 (2014) 2161-2183.
    A. Makkeh, D. O. Theis, R. Vicente, "BROJA-2PID: a robust estimator for bivariate partial
    information decomposition", Entropy 20 (2018) 271.

    Examples
    --------
    >>> from synergy.testing import XOR as xor
    >>> round(union_information(xor).synergy, 9)
    1.0
    """
    log_base = check_base(base, _FUNC)
    solver = _check_options(solver, tol, max_iter)
    t = as_table(p, func=_FUNC, validate=validate, min_table_ndim=2)
    groups = resolve_sources(sources, t.ndim, func=_FUNC, min_sources=2)
    merged = _merge_sources(t, groups)
    h_y, h_x, h_xy = table_entropies(merged.reshape(-1, merged.shape[-1]))
    mi_nats = h_y + h_x - h_xy
    tol_nats = float(tol) * log_base
    structure = build_structure(merged)
    if _informative_sources(structure) < 2:
        # Fewer than two sources use two symbols: Q = P is the only feasible Q.
        raw = _Raw(merged.ravel(), h_x - h_xy, 0.0, "optimal", 0, "closed-form")
        q = merged.copy()
    else:
        raw = _solve(structure, solver, tol_nats, int(max_iter), float(tol), log_base)
        q = np.zeros(merged.shape)
        q.ravel()[structure.cell_flat] = raw.q_cells
    value_nats = h_y + raw.f
    unique: tuple[float, ...] | None = None
    shared: float | None = None
    if merged.ndim == 3:
        ui1, ui2, mi1 = bivariate_terms(merged, q)
        unique, shared = (ui1 / log_base, ui2 / log_base), (mi1 - ui1) / log_base
    return UnionInformation(
        value=value_nats / log_base,
        synergy=(mi_nats - value_nats) / log_base,
        mutual_information=mi_nats / log_base,
        q=q,
        unique=unique,
        shared=shared,
        status=raw.status,
        gap=raw.gap / log_base,
        iterations=raw.iterations,
        solver=raw.solver,
        base=float(base),
    )


def _informative_sources(s: Structure) -> int:
    """How many sources use at least two symbols (a source with one constrains only p(y))."""
    count = 0
    offset = 0
    n_y = s.shape[-1]
    for n_i in s.shape[:-1]:
        used = s.p_full[offset : offset + n_i * n_y].reshape(n_i, n_y).any(axis=1)
        count += int(np.count_nonzero(used) >= 2)
        offset += n_i * n_y
    return count


def _solve(
    structure: Structure, solver: str, tol_nats: float, max_iter: int, tol: float, log_base: float
) -> _Raw:
    if solver in ("auto", "newton"):
        raw = _solve_dedicated(structure, tol_nats, max_iter)
        if raw.status != "optimal":
            fallback = " Falling back to cvxpy." if solver == "auto" else ""
            _warn_short(raw, "Newton solver", tol, log_base, " (or use solver='cvxpy')" + fallback)
            if solver == "auto":
                raw = _best_of(raw, _solve_cvxpy(structure, "cvxpy", tol_nats, max_iter), tol_nats)
                if raw.status != "optimal":
                    _warn_short(raw, "Newton solver and its cvxpy fallback", tol, log_base, "")
    else:
        raw = _solve_cvxpy(structure, solver, tol_nats, max_iter)
        if raw.status != "optimal":
            _warn_short(raw, raw.solver, tol, log_base, " (or use solver='dedicated')")
    return raw


def _warn_short(raw: _Raw, who: str, tol: float, log_base: float, advice: str) -> None:
    """Say that ``raw`` missed ``tol``, what its proven gap is, and which knob to turn."""
    if raw.status in ("iteration limit", "user_limit"):
        knob = "Raise `max_iter`"
    elif raw.status == "stalled":
        knob = "Loosen `tol` (rounding limits this table's certificate)"
    elif raw.status == _CONIC_SHORT:
        knob = "Loosen `tol` (the conic solvers certify to about 1e-9 bits)"
    else:
        knob = "Loosen `tol` or try another solver"
    warnings.warn(
        f"union_information's {who} stopped with status {raw.status!r} after "
        f"{raw.iterations} iterations, duality gap {raw.gap / log_base:.3g} > tol {tol:.3g} "
        f"(the value is still a proven upper bound, within that gap of I_VK). {knob}{advice}.",
        SynergyConvergenceWarning,
        stacklevel=4,
    )


def _best_of(first: _Raw, second: _Raw, tol_nats: float) -> _Raw:
    """Two answers bound the same optimum: keep the lower f (with its Q) and the higher lower
    bound; the status is "optimal" if that gap meets ``tol``, else the second answer's.

    On tables where rounding stalls the Newton certificate, neither a restart nor the conic
    solver's fitted Q is always the better one (on Dirichlet(0.1) tables the Newton answer
    beat cvxpy's about half the time).
    """
    lower = max(_lower(first), _lower(second))
    best = first if first.f <= second.f else second
    gap = max(best.f - lower, 0.0)  # below 0 only by rounding, as in _certified
    status = "optimal" if gap <= tol_nats else second.status
    return _Raw(best.q_cells, best.f, gap, status, best.iterations, best.solver)


def s_vk(
    p: Any,
    sources: Any = None,
    *,
    base: float = 2,
    solver: str = "auto",
    validate: bool = True,
) -> float:
    """Synergy S_VK = I(X; Y) - I_VK({X_i}; Y), in the unit of ``base``.

    A shortcut for ``union_information(p, sources, ...).synergy``; see
    :func:`union_information` for the programme, the solvers and the references.

    Parameters
    ----------
    p : array_like of shape (n_1, ..., n_k, n_y)
        Joint probability table, target last.
    sources : sequence of int or of sequences of int, optional
        Source groups X_i as table axes (at least two); a group of several axes acts as
        one variable. Default: each axis but the last on its own.
    base : float, keyword-only
        Logarithm base (2: bits).
    solver : str, keyword-only
        As in :func:`union_information`: "auto" (the dedicated solver, falling back to
        cvxpy with a warning), "dedicated", "cvxpy", "cvxpy-clarabel", "cvxpy-ecos" or
        "cvxpy-scs".
    validate : bool, keyword-only
        Check that ``p`` is a probability table (turn off in hot loops).

    Returns
    -------
    float
        S_VK in the unit of ``base``, between max(0, WMS) and S_max up to the solver's
        certified gap.

    Examples
    --------
    >>> from synergy.testing import RDN as rdn
    >>> abs(round(s_vk(rdn), 9))
    0.0
    """
    return union_information(p, sources, base=base, solver=solver, validate=validate).synergy


@dataclass(frozen=True)
class _Raw:
    """One solver's answer: ``f`` at a Q meeting the marginals, and a proven gap below it.

    ``f - gap <= min f <= f`` (nats); ``gap`` is finite and >= 0.
    """

    q_cells: np.ndarray
    f: float  # objective in nats
    gap: float  # nats
    status: str
    iterations: int
    solver: str


def _certified(
    s: Structure,
    q_cells: np.ndarray,
    f_val: float,
    lower: float,
    status: str,
    iterations: int,
    solver: str,
) -> _Raw:
    """A _Raw whose bounds always hold and whose gap is finite.

    A solver that produced no usable point or multipliers still leaves bounds: the start
    table q0 is feasible, and the multipliers lam = 0 (shifted feasible) give a lower bound.
    The upper bound f and the lower bound are computed by different sums, so at the optimum
    rounding can put f a few ulps below the lower bound: that difference is reported as a
    gap of 0.
    """
    if not math.isfinite(f_val):
        q_cells, _worst = feasible_point(s.q0, s.cell_full, s.p_full, s.shape[-1], _IPF_SWEEPS)
        f_val = float(objective(q_cells, s.block_start))
    if not math.isfinite(lower):
        lower = float(certify(np.zeros(s.n_rows), s.cell_rows, s.block_start, s.b, s.row0_start))
    return _Raw(q_cells, f_val, max(f_val - lower, 0.0), status, int(iterations), solver)


def _lower(raw: _Raw) -> float:
    """The proven lower bound on min f of an answer (-inf if it carries none)."""
    return raw.f - raw.gap if math.isfinite(raw.f) and math.isfinite(raw.gap) else -math.inf


_NEWTON_STATUS = {0: "optimal", 1: "iteration limit", 2: "stalled"}

# ------------------------------------------------------------------------------ BLAS threads

# BLAS threads during a solve. The Newton systems are a few hundred to a few thousand rows:
# threads buy little there on an idle machine, and where other work holds the cores
# OpenBLAS's spinning threads made an n = 16 solve 3.6x slower (50x at load 6). None leaves
# the caller's setting alone.
_BLAS_THREADS: int | None = 1
_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict[str, Any] = {"depth": 0, "limiter": None, "controller": None}


@contextmanager
def _bounded_blas(active: bool) -> Iterator[None]:
    """Hold BLAS to ``_BLAS_THREADS`` threads inside the block, then restore the caller's.

    threadpoolctl is imported on first use (``import synergy`` stays numpy, scipy and
    numba). Its controller is built once: inspecting the loaded libraries costs about 7 ms,
    a limit from the kept controller 0.01-0.2 ms (benchmarks/RESULTS.md), and only solves
    that reach BLAS (``active``) pay even that. Nested and concurrent solves share one
    limit, set by the first to enter and restored by the last to leave.
    """
    if not active or _BLAS_THREADS is None:
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] == 0:
            controller = _BLAS_STATE["controller"]
            if controller is None:
                # The LAPACK and BLAS that numba's kernels call: loaded before inspecting.
                import importlib

                from threadpoolctl import ThreadpoolController

                importlib.import_module("scipy.linalg.cython_blas")
                importlib.import_module("scipy.linalg.cython_lapack")

                controller = _BLAS_STATE["controller"] = ThreadpoolController()
            _BLAS_STATE["limiter"] = controller.limit(limits=_BLAS_THREADS, user_api="blas")
        _BLAS_STATE["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["depth"] -= 1
            if _BLAS_STATE["depth"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


def _solve_dedicated(s: Structure, tol_nats: float, max_iter: int) -> _Raw:
    if s.n_cells == s.block_start.shape[0] - 1:
        # One cell per x: Q(y | x) is deterministic, f = 0 for the only feasible Q.
        return _Raw(s.q0, 0.0, 0.0, "optimal", 0, "newton")

    def run(start_shift: float) -> _Raw:
        q, _lam, f_val, lower, iterations, status = solve_dual(
            s.cell_rows,
            s.block_start,
            s.b,
            s.row0_start,
            s.cell_full,
            s.p_full,
            tol_nats,
            max_iter,
            s.q0,
            start_shift,
            s.shape[-1],
        )
        return _certified(
            s, q, float(f_val), float(lower), _NEWTON_STATUS[int(status)], iterations, "newton"
        )

    # Start from the product table q0; if rounding stalls the certificate (tables whose
    # entries span many orders of magnitude), try once more from the uniform start, which
    # takes another path to the optimum, and keep the best bounds of both runs.
    with _bounded_blas(reaches_blas(s)):
        first = run(1.0)
        if first.status == "optimal":
            return first
        second = run(0.0)
    both = _best_of(first, second, tol_nats)
    return replace(both, iterations=first.iterations + second.iterations)


# ----------------------------------------------------------------------------- cvxpy reference

_CVXPY_CACHE: OrderedDict[Any, Any] = OrderedDict()
_CVXPY_CACHE_SIZE = 32


def _import_cvxpy() -> Any:
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - the test extra installs cvxpy
        raise ImportError(
            "union_information(solver='cvxpy...') needs cvxpy: pip install \"synergy[cvxpy]\""
        ) from exc
    return cp


def _pick_conic(cp: Any, solver: str) -> str:
    installed = set(cp.installed_solvers())
    if solver == "cvxpy":
        for name in ("CLARABEL", "ECOS"):
            if name in installed:
                return name
        raise ImportError(
            "union_information(solver='cvxpy') needs Clarabel or ECOS: "
            'pip install "synergy[cvxpy]"'
        )
    name = solver.split("-", 1)[1].upper()
    if name not in installed:
        raise ImportError(
            f"union_information(solver={solver!r}) needs the {name} solver for cvxpy: "
            'pip install "synergy[cvxpy]"'
        )
    return name


def _cvxpy_problem(s: Structure) -> tuple[Any, Any, Any, Any]:
    """A parameterised (DPP) problem per support pattern, so repeated shapes skip compiling.

    q(x) is its own variable tied to the cells by equality constraints: measured 10-20x
    faster at n = 12-16 than writing q(x) as a linear map of q(x, y) inside rel_entr.
    """
    key = (s.shape, s.cell_flat.tobytes(), s.cell_rows.tobytes())
    hit = _CVXPY_CACHE.get(key)
    if hit is not None:
        _CVXPY_CACHE.move_to_end(key)
        return hit
    cp = _import_cvxpy()
    import scipy.sparse as sp

    n = s.n_cells
    m = s.n_rows
    n_blocks = s.block_start.shape[0] - 1
    block_of = np.repeat(np.arange(n_blocks), np.diff(s.block_start))
    expand = sp.csr_matrix((np.ones(n), (np.arange(n), block_of)), shape=(n, n_blocks))
    rows, cols = np.nonzero(s.cell_rows >= 0)
    a_mat = sp.csr_matrix((np.ones(rows.shape[0]), (s.cell_rows[rows, cols], rows)), shape=(m, n))
    qv = cp.Variable(n, nonneg=True)
    rv = cp.Variable(n_blocks, nonneg=True)
    b_par = cp.Parameter(m, nonneg=True)
    constraints = [a_mat @ qv == b_par, expand.T @ qv == rv]
    problem = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(qv, expand @ rv))), constraints)
    entry = (problem, qv, b_par, constraints[0])
    _CVXPY_CACHE[key] = entry
    if len(_CVXPY_CACHE) > _CVXPY_CACHE_SIZE:
        _CVXPY_CACHE.popitem(last=False)
    return entry


def _solve_cvxpy(s: Structure, solver: str, tol_nats: float, max_iter: int) -> _Raw:
    cp = _import_cvxpy()
    name = _pick_conic(cp, solver)
    label = "cvxpy-" + name.lower()
    if s.n_cells == s.block_start.shape[0] - 1:
        return _Raw(s.q0, 0.0, 0.0, "optimal", 0, label)
    problem, qv, b_par, marg = _cvxpy_problem(s)
    b_par.value = s.b
    # Tighter than 1e-10 makes Clarabel report 'optimal_inaccurate' on random tables.
    eps = max(min(tol_nats, 1e-9), 1e-10)
    options: dict[str, Any]
    if name == "CLARABEL":
        options = {
            "tol_gap_abs": eps,
            "tol_gap_rel": eps,
            "tol_feas": eps,
            "tol_ktratio": 1e-8,
            "max_iter": max_iter,
        }
    elif name == "ECOS":
        options = {"abstol": eps, "reltol": eps, "feastol": eps, "max_iters": max_iter}
    else:  # SCS: a first-order method, far looser than the interior-point solvers
        options = {"eps": max(eps, 1e-9), "max_iters": _SCS_ITERATIONS_PER_STEP * max_iter}
    q_cells = s.q0
    lam = np.zeros(s.n_rows)
    iterations = 0
    try:
        with warnings.catch_warnings():
            # cvxpy's own "may be inaccurate" warning: the certificate below says how much.
            warnings.filterwarnings("ignore", "Solution may be inaccurate", UserWarning)
            with _bounded_blas(reaches_blas(s)):  # SCS and cvxpy's own numpy may use BLAS
                problem.solve(solver=name, **options)
    except cp.error.SolverError as exc:
        status = f"solver error: {exc}"
    else:
        status = str(problem.status)
        stats = problem.solver_stats
        if stats is not None and stats.num_iters is not None:
            iterations = int(stats.num_iters)
        if qv.value is not None:
            q_cells = np.asarray(qv.value, dtype=np.float64)
        if marg.dual_value is not None:
            # cvxpy's equality duals enter its Lagrangian with the opposite sign to lam.
            lam = -np.asarray(marg.dual_value, dtype=np.float64)
    # The conic solvers meet the marginals only to their feasibility tolerance: f is taken at
    # the feasible point nearest their Q, so it is an upper bound, and any multipliers give a
    # lower bound once shifted feasible. "optimal" is earned by the gap, not by their word.
    q, worst = feasible_point(q_cells, s.cell_full, s.p_full, s.shape[-1], _IPF_SWEEPS)
    f_val = float(objective(q, s.block_start)) if worst <= FEASIBLE_TOL else math.inf
    lower = float(certify(lam, s.cell_rows, s.block_start, s.b, s.row0_start))
    raw = _certified(s, q, f_val, lower, status, iterations, label)
    if raw.gap <= tol_nats:
        return replace(raw, status="optimal")
    if raw.status == cp.OPTIMAL:
        # Converged at the conic solver's own tolerance, short of the certified gap asked for.
        return replace(raw, status=_CONIC_SHORT)
    return raw
