"""Maximum-entropy fits to source-target marginals by iterative proportional fitting (IPF).

CCS and dep both need the maximum-entropy table with given p(x) and p(a_i, y).
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numba
import numpy as np

from synergy._validate import SynergyConvergenceWarning

__all__ = ["MAX_ITERATIONS", "TOLERANCE", "maxent_fit"]

#: Largest marginal residual (probability) at which a fit stops; the bits move by about as much.
TOLERANCE = 1e-14
#: IPF sweeps before giving up with a warning.
MAX_ITERATIONS = 20_000


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
def _ipf_kernel(
    q: np.ndarray,
    wanted: np.ndarray,
    index: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    tol: float,
    max_iter: int,
) -> np.ndarray:
    # IPF in place on q (B, cells): scale to each kept marginal in turn, p(x) last, until
    # the other marginals are within tol (sum of absolute errors). Returns the sweeps each
    # table took, -1 where max_iter ran out. One table at a time: a small table converges
    # in tens of sweeps, so the work is the loop, not numpy's per-call overhead.
    n_batch, n_cells = q.shape
    n_kept = index.shape[0]
    current = np.empty(wanted.shape[1])
    sweeps = np.full(n_batch, -1, dtype=np.int64)
    for b in range(n_batch):
        for sweep in range(max_iter):
            for k in range(n_kept):
                start = offsets[k]
                for m in range(sizes[k]):
                    current[start + m] = 0.0
                for c in range(n_cells):
                    current[start + index[k, c]] += q[b, c]
                for c in range(n_cells):
                    m = start + index[k, c]
                    # 0/0 = 0: cells outside the support of a marginal stay at zero.
                    if current[m] > 0.0:
                        q[b, c] *= wanted[b, m] / current[m]
                    else:
                        q[b, c] = 0.0
            residual = 0.0
            for k in range(n_kept - 1):
                start = offsets[k]
                for m in range(sizes[k]):
                    current[start + m] = 0.0
                for c in range(n_cells):
                    current[start + index[k, c]] += q[b, c]
                miss = 0.0
                for m in range(sizes[k]):
                    miss += abs(current[start + m] - wanted[b, start + m])
                residual = max(residual, miss)
            if residual <= tol:
                sweeps[b] = sweep + 1
                break
    return sweeps


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
    """Cells that every table with the kept marginals of ``table`` leaves at zero.

    With A the constraint matrix and b = A p, a cell c is 0 in every feasible q >= 0 iff
    some y has A^T y >= 0, b^T y = 0 and (A^T y)_c > 0 (Farkas; Goldman-Tucker gives one y
    for all such cells). One linear programme finds it: maximise sum_c s_c with
    0 <= s_c <= 1, s <= A^T y. IPF only reaches such zeros at a rate of 1/sweeps.
    """
    from scipy.optimize import linprog

    matrix = _constraint_matrix(table.shape, elements)
    rhs = matrix @ table.ravel()
    n_rows, n_cells = matrix.shape
    # Variables: y (free, n_rows), then s (n_cells, in [0, 1]).
    cost = np.concatenate([np.zeros(n_rows), -np.ones(n_cells)])
    upper = np.block([[-matrix.T, np.eye(n_cells)], [-matrix.T, np.zeros((n_cells, n_cells))]])
    solution = linprog(
        cost,
        A_ub=upper,
        b_ub=np.zeros(2 * n_cells),
        A_eq=np.concatenate([rhs, np.zeros(n_cells)])[np.newaxis],
        b_eq=np.zeros(1),
        bounds=[(None, None)] * n_rows + [(0.0, 1.0)] * n_cells,
        method="highs",
    )
    if solution.status != 0:  # pragma: no cover - the programme is feasible (y = 0) and bounded
        return np.zeros(table.shape, dtype=bool)
    return (solution.x[n_rows:] > 0.5).reshape(table.shape)


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
        Most IPF sweeps.
    caller : str, keyword-only
        The public function named in the convergence warning.

    Returns
    -------
    ndarray of shape (B, n_1, ..., n_k, n_y)
        The fitted tables.

    Warns
    -----
    SynergyConvergenceWarning
        If some table missed ``tol`` after ``max_iter`` sweeps.

    Notes
    -----
    The maximum-entropy table under linear marginal constraints is the I-projection of the
    uniform table; IPF (Csiszar 1975) converges to it, starting from p(x) / n_y.
    """
    n_batch = stack.shape[0]
    p_x = stack.sum(axis=-1, keepdims=True)
    q = np.broadcast_to(p_x / stack.shape[-1], stack.shape).copy()
    # p itself is feasible, so only cells where p = 0 can be forced to zero; tables without
    # such cells skip the linear programme.
    for b in np.flatnonzero((stack == 0).reshape(n_batch, -1).any(axis=1)):
        q[b][_forced_zeros(stack[b], elements)] = 0.0
    index, offsets, sizes = _marginal_index(stack.shape[1:], elements)
    flat = np.ascontiguousarray(stack.reshape(n_batch, -1))
    wanted = np.zeros((n_batch, int(sizes.sum())))
    # The kept marginals of p, by the same cell -> marginal map the kernel uses.
    for k in range(len(sizes)):
        for c in range(flat.shape[1]):
            wanted[:, offsets[k] + index[k, c]] += flat[:, c]
    q = np.ascontiguousarray(q.reshape(n_batch, -1))
    sweeps = _ipf_kernel(q, wanted, index, offsets, sizes, float(tol), int(max_iter))
    q = q.reshape(stack.shape)
    missed = int((sweeps < 0).sum())
    if missed == 0:
        return q
    warnings.warn(
        f"{caller}: the maximum-entropy fit of {missed} table(s) stopped after "
        f"{max_iter} IPF sweeps with a marginal residual above {tol:g}; pass a larger "
        "`max_iter` (or a larger `tol`) to the measure's function.",
        SynergyConvergenceWarning,
        stacklevel=3,
    )
    return q
