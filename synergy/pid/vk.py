"""S_VK and union information: the convex programme min I_Q(X; Y) over Q matching P(X_i, Y).

Two solvers with one answer: a dedicated primal-dual Newton method (numba) and the cvxpy reference.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, overload

import numpy as np

from synergy._validate import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    SynergyConvergenceWarning,
    as_table,
    check_base,
    check_batch_ndim,
    check_solver_options,
    describe,
    invalid,
    resolve_sources,
)
from synergy.pid._plumbing import with_target_last
from synergy.pid._vk_batch import bivariate_terms, solve_batch, table_entropies
from synergy.pid._vk_solver import (
    FEASIBLE_TOL,
    Structure,
    build_structure,
    certify,
    feasible_point,
    objective,
    reaches_blas,
    solve_dual,
)

__all__ = ["UnionInformation", "UnionInformationBatch", "s_vk", "union_information"]

_LOG = logging.getLogger(__name__)
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
    check_solver_options(tol, max_iter, _FUNC)
    return "newton" if solver == "dedicated" else solver


@overload
def union_information(
    p: Any,
    sources: Any = ...,
    *,
    target: int = ...,
    base: float = ...,
    solver: str = ...,
    tol: float = ...,
    max_iter: int = ...,
    batch_ndim: Literal[0] = ...,
    validate: bool = ...,
) -> UnionInformation: ...


@overload
def union_information(
    p: Any,
    sources: Any = ...,
    *,
    target: int = ...,
    base: float = ...,
    solver: str = ...,
    tol: float = ...,
    max_iter: int = ...,
    batch_ndim: int,
    validate: bool = ...,
) -> UnionInformation | UnionInformationBatch: ...


def union_information(
    p: Any,
    sources: Any = None,
    *,
    target: int = -1,
    base: float = 2,
    solver: str = "auto",
    tol: float = _DEFAULT_TOL,
    max_iter: int = _DEFAULT_MAX_ITER,
    batch_ndim: int = 0,
    validate: bool = True,
) -> UnionInformation | UnionInformationBatch:
    """Union information I_VK and synergy S_VK of sources about the last axis.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_d, n_y)
        Joint probability table, target last unless ``target`` says otherwise; the leading
        ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        At least two disjoint source groups of axes (a group acts as one variable). Default:
        each axis but the target on its own. Axes in no group are marginalised out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
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
    batch_ndim : int, keyword-only
        Number of leading batch axes. With ``batch_ndim > 0`` the Newton solver runs over
        the whole batch in one compiled loop (every table with its own support and
        certificate), and a table that does not certify is solved again alone. Batches of
        4096 tables or more are split in chunks over a pool of ``os.cpu_count()`` threads.
    validate : bool, keyword-only
        Check ``p`` (finite, non-negative, sums to 1). Off for hot loops.

    Returns
    -------
    UnionInformation or UnionInformationBatch
        ``value`` (I_VK), ``synergy`` (S_VK), ``mutual_information``, the optimal ``q``, the
        two-source ``unique`` and ``shared`` informations, ``gap``, ``status``, ``solver``;
        for ``batch_ndim > 0`` a :class:`UnionInformationBatch` of arrays of the batch shape.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources`` has fewer than two groups, overlapping or bad axes, or the target
        axis; or ``target``, ``solver``, ``tol``, ``max_iter`` or ``base`` are not accepted
        values.
    ImportError
        If a cvxpy solver is asked for (or needed as the fallback) and cvxpy is missing.

    Warns
    -----
    SynergyConvergenceWarning
        When the solver stops before the gap meets ``tol`` (the answer is then still a proven
        interval, only wider than asked); it names the knob to turn. For a batch, once, with
        the number of tables still short of ``tol``. Tables that missed ``tol`` in the
        batched solver but met it when solved again alone raise no warning; their count
        goes to the ``synergy.pid.vk`` logger at DEBUG level.

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
    p, sources = with_target_last(
        p, sources, target, func=_FUNC, batch_ndim=batch_ndim, min_sources=2
    )
    if check_batch_ndim(batch_ndim, _FUNC) > 0:
        return _union_information_batch(
            p, sources, base, solver, tol, max_iter, int(batch_ndim), validate
        )
    log_base = check_base(base, _FUNC)
    solver = _check_options(solver, tol, max_iter)
    t = as_table(p, func=_FUNC, validate=validate, min_table_ndim=2)
    groups = resolve_sources(sources, t.ndim, func=_FUNC, min_sources=2)
    merged = _merge_sources(t, groups)
    if solver in ("auto", "newton"):
        small = _one_small_table(merged, float(tol) * abs(log_base), int(max_iter), log_base, base)
        if small is not None:
            return small
    h_y, h_x, h_xy = (
        float(v) for v in table_entropies(merged.reshape(1, -1, merged.shape[-1]))[0]
    )
    mi_nats = h_y + h_x - h_xy
    tol_nats = float(tol) * abs(log_base)
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
        ui1, ui2, mi1 = (float(v) for v in bivariate_terms(merged[None], q[None])[0])
        unique, shared = (ui1 / log_base, ui2 / log_base), (mi1 - ui1) / log_base
    return UnionInformation(
        value=value_nats / log_base,
        synergy=(mi_nats - value_nats) / log_base,
        mutual_information=mi_nats / log_base,
        q=q,
        unique=unique,
        shared=shared,
        status=raw.status,
        gap=raw.gap / abs(log_base),
        iterations=raw.iterations,
        solver=raw.solver,
        base=float(base),
    )


def _one_small_table(
    merged: np.ndarray, tol_nats: float, max_iter: int, log_base: float, base: float
) -> UnionInformation | None:
    """A small table's answer from the batched kernel (a batch of one), or None.

    Tables within ``_SMALL_ROWS`` constraint rows take the batched kernel's path, so that a
    first call compiles one solver (the blocked one compiles only for large tables or a
    table this path does not certify), and only once the interpreted kernel has cost this
    process as much as compiling it is worth (``tiered``: see ``synergy.pid._vk_batch``).
    None, for the single-table path, when the table is larger or its gap misses
    ``tol_nats``.
    """
    shape = merged.shape
    if sum(shape[:-1]) * shape[-1] > _SMALL_ROWS:
        return None
    n_x = math.prod(shape[:-1])
    two_d = np.ascontiguousarray(merged, dtype=np.float64).reshape(1, n_x, shape[-1])
    dims = np.array(shape[:-1], dtype=np.int64)
    answer = solve_batch(two_d, dims, tol_nats, max_iter, tiered=True)
    code = int(answer.status[0])
    q = answer.q[0].reshape(shape)
    if code not in (0, 3) or not _meets_marginals(q, merged):
        return None
    f = float(answer.f[0])
    h_y, h_x, h_xy = (float(v) for v in answer.entropies[0])
    value_nats = h_y + f
    mi_nats = h_y + h_x - h_xy
    unique: tuple[float, ...] | None = None
    shared: float | None = None
    if len(shape) == 3:
        terms = bivariate_terms(two_d.reshape(1, *shape), q.reshape(1, *shape))
        ui1, ui2, mi1 = (float(v) for v in terms[0])
        unique, shared = (ui1 / log_base, ui2 / log_base), (mi1 - ui1) / log_base
    return UnionInformation(
        value=value_nats / log_base,
        synergy=(mi_nats - value_nats) / log_base,
        mutual_information=mi_nats / log_base,
        q=q,
        unique=unique,
        shared=shared,
        status="optimal",
        gap=(f - float(answer.lower[0])) / abs(log_base),
        iterations=int(answer.iterations[0]),
        solver="closed-form" if code == 3 else "newton",
        base=float(base),
    )


def _meets_marginals(q: np.ndarray, p: np.ndarray) -> bool:
    """Whether Q(x_i, y) = P(x_i, y) for every source to ``_MARGINAL_RTOL``/``_MARGINAL_ATOL``."""
    sources = q.ndim - 1
    for i in range(sources):
        others = tuple(a for a in range(sources) if a != i)
        got, want = q.sum(axis=others), p.sum(axis=others)
        if np.any(np.abs(got - want) > _MARGINAL_ATOL + _MARGINAL_RTOL * np.abs(want)):
            return False
    return True


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
        f"{raw.iterations} iterations, duality gap {raw.gap / abs(log_base):.3g} > tol {tol:.3g} "
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


@overload
def s_vk(
    p: Any,
    sources: Any = ...,
    *,
    target: int = ...,
    base: float = ...,
    solver: str = ...,
    tol: float = ...,
    max_iter: int = ...,
    batch_ndim: Literal[0] = ...,
    validate: bool = ...,
) -> float: ...


@overload
def s_vk(
    p: Any,
    sources: Any = ...,
    *,
    target: int = ...,
    base: float = ...,
    solver: str = ...,
    tol: float = ...,
    max_iter: int = ...,
    batch_ndim: int,
    validate: bool = ...,
) -> float | np.ndarray: ...


def s_vk(
    p: Any,
    sources: Any = None,
    *,
    target: int = -1,
    base: float = 2,
    solver: str = "auto",
    tol: float = _DEFAULT_TOL,
    max_iter: int = _DEFAULT_MAX_ITER,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    """Synergy S_VK = I(X; Y) - I_VK({X_i}; Y), in the unit of ``base``.

    A shortcut for ``union_information(p, sources, ...).synergy``; see
    :func:`union_information` for the programme, the solvers and the references.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table, target last unless ``target`` says otherwise; the leading
        ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        Source groups X_i as table axes (at least two); a group of several axes acts as
        one variable. Default: each axis but the target on its own.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    solver : str, keyword-only
        As in :func:`union_information`: "auto" (the dedicated solver, falling back to
        cvxpy with a warning), "dedicated", "cvxpy", "cvxpy-clarabel", "cvxpy-ecos" or
        "cvxpy-scs".
    tol : float, keyword-only
        Proven duality gap to reach, in the unit of ``base`` (as in
        :func:`union_information`; the conic solvers certify to about 1e-9 bits).
    max_iter : int, keyword-only
        Iteration limit of each solver run (as in :func:`union_information`).
    batch_ndim : int, keyword-only
        Number of leading batch axes (see :func:`union_information`).
    validate : bool, keyword-only
        Check that ``p`` is a probability table (turn off in hot loops).

    Returns
    -------
    float or ndarray of shape batch
        S_VK in the unit of ``base``, between max(0, WMS) and S_max up to the solver's
        certified gap.

    Examples
    --------
    >>> from synergy.testing import RDN as rdn
    >>> abs(round(s_vk(rdn), 9))
    0.0
    """
    return union_information(
        p,
        sources,
        target=target,
        base=base,
        solver=solver,
        tol=tol,
        max_iter=max_iter,
        batch_ndim=batch_ndim,
        validate=validate,
    ).synergy


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


# ----------------------------------------------------------------------------- batches

# Tables with more constraint rows than this go one by one through the single-table path:
# the batched kernel factors a dense Newton system per iteration, built for small tables.
_BATCH_MAX_ROWS = 256
_BATCH_STATUS = ("optimal", "iteration limit", "stalled", "optimal")  # by kernel status code
# A single table with at most this many constraint rows is solved as a batch of one (past
# about 70 rows the dense kernel is slower than the blocked one: 1.17x at 6x6x6, 3.5x 8x8x8).
_SMALL_ROWS = 64
# The single-table path repairs Q until it meets every marginal to about these tolerances
# (tests/test_vk_certificate.py); a batch-of-one answer that does not goes through that path.
# (The batched kernel's own bound, _FIT_TOL = 1e-14 absolute, is looser: 1 of 2,000 random
# 3x3x3 tables certified by the kernel misses these by 4e-15 and goes to the blocked solver.)
_MARGINAL_RTOL = 1e-14
_MARGINAL_ATOL = 1e-15


@dataclass(frozen=True)
class UnionInformationBatch:
    """The union-information optimum of every table of a batch, each with its own certificate.

    Attributes
    ----------
    value : ndarray of shape batch
        I_VK({X_i}; Y) per table, in the unit of ``base``.
    synergy : ndarray of shape batch
        S_VK = I(X; Y) - I_VK per table, in the unit of ``base``.
    mutual_information : ndarray of shape batch
        I(X; Y) under P per table, in the unit of ``base``.
    q : ndarray of shape (*batch, n_1, ..., n_k, n_y)
        The optimal Q of every table on the merged table (one axis per source group).
    unique : tuple of two ndarray of shape batch, or None
        For two sources, the BROJA unique informations (UI_1, UI_2); None for more.
    shared : ndarray of shape batch, or None
        For two sources, the BROJA shared information I(X_1; Y) - UI_1; None otherwise.
    status : ndarray of str, shape batch
        "optimal" where the table's gap met ``tol``; otherwise what stopped its solver.
    gap : ndarray of shape batch
        Per table, f(Q) minus a dual lower bound, in the unit of ``base``: finite and >= 0,
        and ``value - gap <= I_VK <= value``.
    iterations : ndarray of int, shape batch
        Newton iterations per table (plus the single-table solver's, where it ran).
    solver : ndarray of str, shape batch
        The solver whose Q each table reports: "newton", "closed-form" or a "cvxpy-..."
        name where a table was solved again alone.
    base : float
        The logarithm base of every value above.
    """

    value: np.ndarray
    synergy: np.ndarray
    mutual_information: np.ndarray
    q: np.ndarray = field(repr=False)
    unique: tuple[np.ndarray, ...] | None
    shared: np.ndarray | None
    status: np.ndarray
    gap: np.ndarray
    iterations: np.ndarray
    solver: np.ndarray
    base: float = 2.0

    def __repr__(self) -> str:
        n_optimal = int(np.count_nonzero(self.status == "optimal"))
        worst = float(self.gap.max()) if self.gap.size else 0.0
        return (
            f"UnionInformationBatch(shape={self.value.shape}, optimal={n_optimal} of "
            f"{self.value.size}, max gap={worst:.3g}, base={self.base:g}, "
            f"q.shape={self.q.shape})"
        )


def _merge_batch(flat: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """:func:`_merge_sources` for a stack of tables (axis 0 indexes the tables)."""
    target = flat.ndim - 1
    if groups == tuple((a,) for a in range(target - 1)):
        return np.ascontiguousarray(flat)
    used = [a + 1 for g in groups for a in g]
    drop = tuple(a for a in range(1, target) if a not in used)
    if drop:
        flat = flat.sum(axis=drop, keepdims=True)  # kept as length-1 axes, moved last
    t = np.transpose(flat, [0, *used, target, *drop])
    sizes = [int(np.prod([flat.shape[a + 1] for a in g])) for g in groups]
    return np.ascontiguousarray(t.reshape(flat.shape[0], *sizes, flat.shape[target]))


def _union_information_batch(
    p: Any,
    sources: Any,
    base: float,
    solver: str,
    tol: float,
    max_iter: int,
    batch_ndim: int,
    validate: bool,
) -> UnionInformationBatch:
    """:func:`union_information` over the leading ``batch_ndim`` axes of ``p``."""
    log_base = check_base(base, _FUNC)
    solver = _check_options(solver, tol, max_iter)
    t = _batch_table(p, batch_ndim, validate)
    if t.ndim - batch_ndim < 2:
        raise invalid(
            "p",
            _FUNC,
            "a table with at least one source axis and the target axis last",
            f"an array of shape {t.shape} with batch_ndim={batch_ndim}",
            kind=InvalidDistributionError,
        )
    groups = resolve_sources(sources, t.ndim - batch_ndim, func=_FUNC, min_sources=2)
    batch_shape = t.shape[:batch_ndim]
    merged = _merge_batch(t.reshape(-1, *t.shape[batch_ndim:]), groups)
    shape = merged.shape[1:]
    n_tables = merged.shape[0]
    two_d = merged.reshape(n_tables, math.prod(shape[:-1]), shape[-1])
    tol_nats = float(tol) * abs(log_base)
    dims = np.array(shape[:-1], dtype=np.int64)
    batched = solver in ("auto", "newton") and int(dims.sum()) * shape[-1] <= _BATCH_MAX_ROWS
    if batched:
        answer = solve_batch(two_d, dims, tol_nats, int(max_iter))
        q, f, lower = answer.q, answer.f, answer.lower
        iterations = answer.iterations
        h_y, h_x, h_xy = answer.entropies.T
        codes = answer.status
        status_all = np.array(_BATCH_STATUS)[codes]
        solver_all = np.where(codes == 3, "closed-form", "newton")
        again = np.flatnonzero((codes == 1) | (codes == 2))
    else:
        q = np.zeros((n_tables, two_d.shape[1] * shape[-1]))
        f = np.full(n_tables, np.inf)
        lower = np.full(n_tables, -np.inf)
        iterations = np.zeros(n_tables, dtype=np.int64)
        h_y, h_x, h_xy = table_entropies(two_d).T
        status_all = np.full(n_tables, "not run")
        solver_all = np.full(n_tables, solver)
        again = np.arange(n_tables)
    # Tables solved again alone: their words, set into the arrays once all are known.
    status: dict[int, str] = {}
    solvers: dict[int, str] = {}
    for i in again.tolist():
        # One table alone, through the single-table path (and its fallback); its bounds
        # join the batch's own where its certificate holds (finite, non-negative gap).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SynergyConvergenceWarning)
            alone = union_information(
                merged[i], base=base, solver=solver, tol=tol, max_iter=max_iter, validate=False
            )
        f_alone = float(alone.value) * log_base - h_y[i]
        gap_alone = float(alone.gap) * abs(log_base)
        iterations[i] += int(alone.iterations)
        if not (math.isfinite(gap_alone) and gap_alone >= 0.0):
            if not math.isfinite(f[i]):
                status[i] = f"{alone.status} (uncertified)"
                f[i] = h_x[i] - h_xy[i]  # P is feasible: an honest upper bound
                q[i] = two_d[i].ravel()
                lower[i] = -h_y[i]  # I_VK >= 0
                solvers[i] = "closed-form"
            continue
        if f_alone < f[i]:
            f[i] = f_alone
            q[i] = np.asarray(alone.q, dtype=np.float64).ravel()
            solvers[i] = str(alone.solver)
        lower[i] = min(max(lower[i], f_alone - gap_alone), f[i])
        if f[i] - lower[i] <= tol_nats:
            status[i] = "optimal"
        elif alone.status != "optimal":
            status[i] = str(alone.status)
        # else: the single-table run called a gap above tol optimal; the batch's word stands
    status_all = _with_words(status_all, status)
    solver_all = _with_words(solver_all, solvers)
    still = int(np.count_nonzero(status_all[again] != "optimal"))
    if batched and again.size:
        fallback = "the Newton solver, then cvxpy" if solver == "auto" else "the Newton solver"
        # Tables certified alone are answered as asked: no warning (a training loop would
        # see one every few steps), only this record of the extra work.
        _LOG.debug(
            "union_information: %d of %d tables did not certify in the batched solver and "
            "were solved again alone with %s; %d still miss tol %.3g",
            again.size,
            n_tables,
            fallback,
            still,
            float(tol),
        )
    if batched and still:
        warnings.warn(
            f"union_information: {still} of {n_tables} tables still miss tol "
            f"{float(tol):.3g} (see `status` and `gap`): they did not certify in the batched "
            f"solver within max_iter {int(max_iter)}, nor alone with {fallback} "
            f"({again.size} were solved again alone). Raise `max_iter` or loosen `tol`"
            + (" (or use solver='auto')." if solver == "newton" else "."),
            SynergyConvergenceWarning,
            stacklevel=3,
        )
    elif still:
        warnings.warn(
            f"union_information: {still} of {n_tables} tables stopped short of tol "
            f"{float(tol):.3g} with solver {solver!r} (see `status` and `gap`). Raise "
            "`max_iter` or try another solver.",
            SynergyConvergenceWarning,
            stacklevel=3,
        )
    value_nats = h_y + f
    mi_nats = h_y + h_x - h_xy
    q_out = q.reshape(*batch_shape, *shape)
    unique: tuple[np.ndarray, ...] | None = None
    shared: np.ndarray | None = None
    if len(shape) == 3:
        ui1, ui2, mi1 = bivariate_terms(merged, q.reshape(n_tables, *shape)).T
        unique = (
            (ui1 / log_base).reshape(batch_shape),
            (ui2 / log_base).reshape(batch_shape),
        )
        shared = ((mi1 - ui1) / log_base).reshape(batch_shape)
    return UnionInformationBatch(
        value=(value_nats / log_base).reshape(batch_shape),
        synergy=((mi_nats - value_nats) / log_base).reshape(batch_shape),
        mutual_information=(mi_nats / log_base).reshape(batch_shape),
        q=q_out,
        unique=unique,
        shared=shared,
        status=status_all.reshape(batch_shape),
        gap=((f - lower) / abs(log_base)).reshape(batch_shape),
        iterations=iterations.reshape(batch_shape),
        solver=solver_all.reshape(batch_shape),
        base=float(base),
    )


def _with_words(words: np.ndarray, changes: dict[int, str]) -> np.ndarray:
    """``words`` (an array of str) with the entries of ``changes`` set, widened to fit them."""
    if not changes:
        return words
    width = max(words.dtype.itemsize // 4, *(len(w) for w in changes.values()))
    out = words.astype(f"<U{width}")
    for i, w in changes.items():
        out[i] = w
    return out


def _batch_table(p: Any, batch_ndim: int, validate: bool) -> np.ndarray:
    """The batch as float64, checked; an empty batch (a zero-length batch axis) passes."""
    try:
        arr = np.asarray(p)
    except (ValueError, TypeError):  # ragged: as_table words the error
        arr = None
    if arr is not None and arr.ndim > batch_ndim and 0 in arr.shape[:batch_ndim]:
        table_shape = arr.shape[batch_ndim:]
        if validate and (arr.dtype.kind not in "fiu" or 0 in table_shape):
            raise invalid(
                "p",
                _FUNC,
                "a batch of non-empty tables of real numbers",
                f"an array of shape {arr.shape} and dtype {arr.dtype}",
                kind=InvalidDistributionError if arr.dtype.kind in "fiu" else InvalidTypeError,
            )
        return np.zeros(arr.shape, dtype=np.float64)
    return as_table(p, func=_FUNC, batch_ndim=batch_ndim, validate=validate, min_table_ndim=2)
