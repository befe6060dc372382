"""Maximum-entropy fits to source-target marginals: IPF sweeps, then Newton on the dual.

CCS and dep both need the maximum-entropy table with given p(x) and p(a_i, y).
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numba
import numpy as np

from synergy._tier import Tiered
from synergy._validate import SynergyConvergenceWarning

__all__ = ["MAX_ITERATIONS", "TOLERANCE", "maxent_fit"]

#: Largest marginal residual (probability) at which a fit stops; the bits move by about as much.
TOLERANCE = 1e-14
#: Newton steps on the dual before giving up with a warning.
MAX_ITERATIONS = 100
#: IPF sweeps tried first; a table they do not fit to the tolerance goes to Newton.
IPF_SWEEPS = 20


@cache
def _marginal_index(
    shape: tuple[int, ...], elements: tuple[tuple[int, ...], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each kept marginal (every p(a_i, y), then p(x)): each cell's marginal cell.

    Returns (index of shape (K, cells), offsets of each marginal in one concatenated
    vector, sizes); read-only, cached per shape.
    """
    n_sources = len(shape) - 1
    cells = np.indices(shape).reshape(len(shape), -1)
    keeps = [(*e, n_sources) for e in elements] + [tuple(range(n_sources))]
    index = np.empty((len(keeps), cells.shape[1]), dtype=np.int64)
    sizes = np.empty(len(keeps), dtype=np.int64)
    for k, keep in enumerate(keeps):
        kept_shape = tuple(shape[a] for a in keep)
        index[k] = np.ravel_multi_index(tuple(cells[a] for a in keep), kept_shape)
        sizes[k] = math.prod(kept_shape)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    for array in (index, offsets, sizes):
        array.flags.writeable = False
    return index, offsets, sizes


@numba.njit(cache=True)
def _marginals(
    q: np.ndarray,
    wanted: np.ndarray,
    index: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    out: np.ndarray,
) -> float:
    # Every kept marginal of one table q (cells,) into out, concatenated; returns the
    # residual, the largest sum of absolute errors over the kept marginals.
    residual = 0.0
    for k in range(index.shape[0]):
        start = offsets[k]
        for m in range(sizes[k]):
            out[start + m] = 0.0
        for c in range(q.shape[0]):
            out[start + index[k, c]] += q[c]
        miss = 0.0
        for m in range(start, start + sizes[k]):
            miss += abs(out[m] - wanted[m])
        residual = max(residual, miss)
    return residual


@numba.njit(cache=True)
def _ipf_sweep(
    q: np.ndarray,
    wanted: np.ndarray,
    index: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    current: np.ndarray,
) -> None:
    # One IPF sweep on one table: scale to each kept marginal in turn.
    for k in range(index.shape[0]):
        start = offsets[k]
        for m in range(sizes[k]):
            current[start + m] = 0.0
        for c in range(q.shape[0]):
            current[start + index[k, c]] += q[c]
        for c in range(q.shape[0]):
            m = start + index[k, c]
            # 0/0 = 0: cells outside the support of a marginal stay at zero.
            q[c] = q[c] * wanted[m] / current[m] if current[m] > 0.0 else 0.0


@numba.njit(cache=True)
def _solve_on_rows(
    matrix: np.ndarray, rhs: np.ndarray, rows: np.ndarray, step: np.ndarray
) -> None:
    # Solve matrix @ step = rhs on the given rows (the others of step are 0) for a matrix
    # that is symmetric positive definite there, by LDL^T on its lower triangle, which it
    # overwrites. A pivot that rounding makes <= 0 drops its row, as a last resort.
    n = matrix.shape[0]
    pivots = np.zeros(n)
    for j in range(n):
        if not rows[j]:
            continue
        value = matrix[j, j]
        for k in range(j):
            value -= matrix[j, k] * matrix[j, k] * pivots[k]
        if not value > 0.0:
            continue
        pivots[j] = value
        for i in range(j + 1, n):
            entry = matrix[i, j]
            for k in range(j):
                entry -= matrix[i, k] * matrix[j, k] * pivots[k]
            matrix[i, j] = entry / value
    for i in range(n):  # L z = rhs, L unit lower triangular, dropped rows' columns unused
        value = rhs[i]
        for k in range(i):
            if pivots[k] > 0.0:
                value -= matrix[i, k] * step[k]
        step[i] = value if pivots[i] > 0.0 else 0.0
    for i in range(n):
        if pivots[i] > 0.0:
            step[i] /= pivots[i]
    for i in range(n - 1, -1, -1):  # L^T step = D^-1 z
        if pivots[i] > 0.0:
            value = step[i]
            for k in range(i + 1, n):
                if pivots[k] > 0.0:
                    value -= matrix[k, i] * step[k]
            step[i] = value


@numba.njit(cache=True)
def _fit_kernel(
    q: np.ndarray,
    wanted: np.ndarray,
    index: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    rows: np.ndarray,
    tol: float,
    ipf_sweeps: int,
    max_iter: int,
    steps: np.ndarray,
    residuals: np.ndarray,
) -> None:
    # Fit q (B, cells) in place by damped Newton on the dual, min over theta of
    # sum_c exp((A^T theta)_c) - b^T theta, over the cells where q > 0 (q keeps the
    # log-linear form, so each step multiplies q by exp(A^T step)), with theta on rows[b], a
    # basis of A's rows on those cells (so the Newton system is positive definite; the other
    # multipliers stay 0 without loss). Stops when every kept marginal is within tol (sum
    # of absolute errors). Writes each table's Newton steps (-1: max_iter ran out, or no
    # step could lower the residual or the dual) and its final residual. One table at a
    # time: the tables are small. steps is 0 where IPF's sweeps sufficed.
    n_batch, n_cells = q.shape
    n_kept = index.shape[0]
    n_rows = wanted.shape[1]
    current = np.empty(n_rows)
    gradient = np.empty(n_rows)
    step = np.empty(n_rows)
    hessian = np.empty((n_rows, n_rows))
    direction = np.empty(n_cells)
    trial = np.empty(n_cells)
    start = np.empty(n_cells)
    for b in range(n_batch):
        table = q[b]
        target = wanted[b]
        # IPF first: on most tables it meets tol within ipf_sweeps cheap sweeps. Where it
        # does not, Newton restarts from the start, not from IPF's table: on
        # near-deterministic tables the sweeps push cells of 1e-8 down to 1e-25, where
        # rounding hides them from Newton.
        for c in range(n_cells):
            start[c] = table[c]
        residual = _marginals(table, target, index, offsets, sizes, current)
        for _ in range(ipf_sweeps):
            if residual <= tol:
                break
            _ipf_sweep(table, target, index, offsets, sizes, current)
            residual = _marginals(table, target, index, offsets, sizes, current)
        if residual > tol:
            for c in range(n_cells):
                table[c] = start[c]
            residual = _marginals(table, target, index, offsets, sizes, current)
        newton = 0
        while residual > tol and newton < max_iter:
            newton += 1
            for m in range(n_rows):
                gradient[m] = current[m] - target[m]
                for n in range(m + 1):
                    hessian[m, n] = 0.0
            # H = A diag(q) A^T. The kept marginals are disjoint blocks of rows in order, so
            # other <= k fills the lower triangle, all the solver reads.
            for c in range(n_cells):
                if table[c] > 0.0:
                    for k in range(n_kept):
                        row = offsets[k] + index[k, c]
                        for other in range(k + 1):
                            hessian[row, offsets[other] + index[other, c]] += table[c]
            for m in range(n_rows):
                gradient[m] = -gradient[m]
            _solve_on_rows(hessian, gradient, rows[b], step)
            slope = 0.0
            for m in range(n_rows):
                slope -= gradient[m] * step[m]
            for c in range(n_cells):
                value = 0.0
                for k in range(n_kept):
                    value += step[offsets[k] + index[k, c]]
                direction[c] = value
            target_step = 0.0
            for m in range(n_rows):
                target_step += target[m] * step[m]
            # Backtracking: accept a step that decreases the residual, or the dual by the
            # Armijo rule where that decrease is larger than the rounding of its sum (near
            # the optimum it is not, and the residual decides).
            t = 1.0
            accepted = False
            for _ in range(60):
                change = -t * target_step
                scale = abs(change)
                # A step that would scale a cell by more than e^700 is too long: halve it
                # (and do not call exp, which raises OverflowError in plain Python).
                finite = True
                for c in range(n_cells):
                    if table[c] > 0.0 and t * direction[c] > 700.0:
                        finite = False
                    elif table[c] > 0.0:
                        term = table[c] * math.expm1(t * direction[c])
                        change += term
                        scale += abs(term)
                        trial[c] = table[c] * math.exp(t * direction[c])
                    else:
                        trial[c] = 0.0
                trial_residual = _marginals(trial, target, index, offsets, sizes, current)
                finite = finite and math.isfinite(change) and math.isfinite(trial_residual)
                if finite and (
                    trial_residual < residual
                    or (change <= 1e-4 * t * slope and change < -1e-14 * scale)
                ):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                break
            for c in range(n_cells):
                table[c] = trial[c]
            residual = trial_residual
        residuals[b] = residual
        steps[b] = newton if residual <= tol else -1


_FIT_KERNEL = Tiered(
    _fit_kernel,
    {"_marginals": _marginals, "_ipf_sweep": _ipf_sweep, "_solve_on_rows": _solve_on_rows},
)


@cache
def _basis_rows(
    shape: tuple[int, ...], elements: tuple[tuple[int, ...], ...], free: bytes
) -> np.ndarray:
    """A basis of the kept-marginal rows restricted to the free cells (bool per row).

    The marginals share sums (every p(a_i, y) sums to 1, as p(x) does), so their rows are
    dependent, and zeros fixed in the fit add dependencies of their own. The basis depends
    only on which cells are free, so it is found exactly on the 0/1 matrix, by QR with
    column pivoting, and cached per pattern; rows on no free cell are left out.
    """
    from scipy.linalg import qr

    index, offsets, sizes = _marginal_index(shape, elements)
    free_cells = np.frombuffer(free, dtype=bool)
    matrix = np.zeros((int(sizes.sum()), index.shape[1]))
    for k in range(index.shape[0]):
        matrix[offsets[k] + index[k], np.arange(index.shape[1])] = 1.0
    rows = np.zeros(matrix.shape[0], dtype=bool)
    kept = matrix[:, free_cells]
    if kept.size:
        triangle, pivots = qr(kept.T, mode="r", pivoting=True)
        diagonal = np.abs(np.diagonal(triangle))
        rank = int((diagonal > 1e-9 * diagonal[0]).sum())
        rows[pivots[:rank]] = True
    rows.flags.writeable = False
    return rows


def _constraint_matrix(
    shape: tuple[int, ...], elements: tuple[tuple[int, ...], ...]
) -> np.ndarray:
    """Rows: the indicator of every kept marginal cell (p(x), then each p(a_i, y))."""
    cells = np.indices(shape).reshape(len(shape), -1)
    n_sources = len(shape) - 1
    rows = []
    for keep in [tuple(range(n_sources)), *[(*e, n_sources) for e in elements]]:
        index = np.ravel_multi_index(tuple(cells[a] for a in keep), tuple(shape[a] for a in keep))
        rows.append(np.eye(int(np.prod([shape[a] for a in keep])))[index].T)
    return np.vstack(rows)


def _forced_zeros(table: np.ndarray, elements: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Cells that every table with the kept marginals of ``table`` leaves at zero."""
    return _forced_zeros_of_support(table.shape, elements, (table > 0).tobytes())


@cache
def _forced_zeros_of_support(
    shape: tuple[int, ...], elements: tuple[tuple[int, ...], ...], support_cells: bytes
) -> np.ndarray:
    """:func:`_forced_zeros` for the tables with this support (read-only, cached per pattern).

    With A the constraint matrix and b = A p, a cell c is 0 in every feasible q >= 0 iff
    some y has A^T y >= 0, b^T y = 0 and (A^T y)_c > 0 (Farkas; Goldman-Tucker gives one y
    for all such cells). As p >= 0 is feasible, b^T y = p^T A^T y = 0 says that A^T y = 0
    on the support of p, so only cells outside it can be forced, and the programme depends
    on the support alone, not on the size of p's cells (a cell of 1e-28 counts as much as
    one of 0.5). One linear programme finds them: maximise sum_c s_c over the cells c
    outside the support, with 0 <= s_c <= (A^T y)_c and s_c <= 1. Neither IPF nor Newton
    on the dual can reach such a zero: it is fixed before the fit.
    """
    from scipy.optimize import linprog

    matrix = _constraint_matrix(shape, elements)
    support = np.frombuffer(support_cells, dtype=bool)
    n_rows = matrix.shape[0]
    n_zero = int((~support).sum())
    # Variables: y (free, n_rows), then s (one per cell outside the support, in [0, 1]).
    cost = np.concatenate([np.zeros(n_rows), -np.ones(n_zero)])
    solution = linprog(
        cost,
        A_ub=np.hstack([-matrix[:, ~support].T, np.eye(n_zero)]),
        b_ub=np.zeros(n_zero),
        A_eq=np.hstack([matrix[:, support].T, np.zeros((int(support.sum()), n_zero))]),
        b_eq=np.zeros(int(support.sum())),
        bounds=[(None, None)] * n_rows + [(0.0, 1.0)] * n_zero,
        method="highs",
    )
    forced = np.zeros(support.size, dtype=bool)
    # The programme is feasible (y = 0) and bounded; should HiGHS still fail, no cell is fixed.
    if solution.status == 0:
        forced[~support] = solution.x[n_rows:] > 0.5
    forced = forced.reshape(shape)
    forced.flags.writeable = False
    return forced


def _fit(
    stack: np.ndarray, elements: tuple[tuple[int, ...], ...], *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`maxent_fit` without the warning: (fits, Newton steps or -1, residuals)."""
    n_batch = stack.shape[0]
    shape = stack.shape[1:]
    p_x = stack.sum(axis=-1, keepdims=True)
    q = np.broadcast_to(p_x / stack.shape[-1], stack.shape).copy()
    rows = np.empty((n_batch, int(_marginal_index(shape, elements)[2].sum())), dtype=bool)
    rows[:] = _basis_rows(shape, elements, np.ones(math.prod(shape), dtype=bool).tobytes())
    # p itself is feasible, so only cells where p = 0 can be forced to zero; tables without
    # such cells skip the linear programme.
    for b in np.flatnonzero((stack == 0).reshape(n_batch, -1).any(axis=1)):
        forced = _forced_zeros(stack[b], elements)
        q[b][forced] = 0.0
        rows[b] = _basis_rows(shape, elements, (~forced).ravel().tobytes())
    index, offsets, sizes = _marginal_index(shape, elements)
    flat = np.ascontiguousarray(stack.reshape(n_batch, -1))
    wanted = np.zeros((n_batch, int(sizes.sum())))
    # The kept marginals of p, by the same cell -> marginal map the kernel uses.
    for k in range(len(sizes)):
        for c in range(flat.shape[1]):
            wanted[:, offsets[k] + index[k, c]] += flat[:, c]
    q = np.ascontiguousarray(q.reshape(n_batch, -1))
    steps = np.empty(n_batch, dtype=np.int64)
    residuals = np.empty(n_batch)
    # A single table takes the tiered kernel (synergy._tier: interpreted until compiling it
    # pays, as the S_VK solver does; its first call compiles for about 3 s); a batch runs
    # compiled.
    kernel = _FIT_KERNEL.run if n_batch == 1 else _fit_kernel
    kernel(
        q,
        wanted,
        index,
        offsets,
        sizes,
        rows,
        float(tol),
        IPF_SWEEPS,
        int(max_iter),
        steps,
        residuals,
    )
    return q.reshape(stack.shape), steps, residuals


def maxent_fit(
    stack: np.ndarray,
    elements: tuple[tuple[int, ...], ...],
    *,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
    caller: str = "maxent_fit",
) -> np.ndarray:
    """The maximum-entropy q with q(x) = p(x) and q(a_i, y) = p(a_i, y) for every element.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables p(x_1, ..., x_k, y), target last.
    elements : tuple of tuple of int
        Source indices A_i whose joint with the target is kept.
    tol : float, keyword-only
        Stop when every kept marginal is within ``tol`` of p's (sum of absolute errors).
    max_iter : int, keyword-only
        Most Newton steps.
    caller : str, keyword-only
        The public function named in the convergence warning.

    Returns
    -------
    ndarray of shape (B, n_1, ..., n_k, n_y)
        The fitted tables.

    Warns
    -----
    SynergyConvergenceWarning
        If some table missed ``tol`` after ``max_iter`` Newton steps.

    Notes
    -----
    The maximum-entropy table under linear marginal constraints A q = b is the I-projection
    of the uniform table (Csiszar 1975). Cells that every feasible table leaves at zero are
    found first by a linear programme and fixed at 0; on the other cells the optimum has the
    log-linear form q = exp(A^T theta), theta minimising the dual
    sum_c exp((A^T theta)_c) - b^T theta. From p(x) / n_y, :data:`IPF_SWEEPS` sweeps of IPF
    fit most tables; the others restart from p(x) / n_y with damped Newton steps on the dual
    (H = A diag(q) A^T on a basis of its rows, a backtracking line search), which converge
    quadratically near the optimum, also where it has cells near zero, on which IPF slows
    to a crawl. Tables whose cells span hundreds of orders of magnitude can still
    stall, rounding hiding the last steps: those are the ones the warning counts.
    """
    q, steps, residuals = _fit(stack, elements, tol=tol, max_iter=max_iter)
    missed = steps < 0
    if not missed.any():
        return q
    warnings.warn(
        f"{caller}: the maximum-entropy fit of {int(missed.sum())} table(s) stopped after "
        f"at most {max_iter} Newton steps with a marginal residual up to "
        f"{residuals[missed].max():.1e}, above {tol:g}; pass a larger `max_iter` (or a "
        "larger `tol`) to the measure's function.",
        SynergyConvergenceWarning,
        stacklevel=3,
    )
    return q
