"""Maximum-entropy fits to source-target marginals by iterative proportional fitting (IPF).

CCS and dep both need the maximum-entropy table with given p(x) and p(a_i, y).
"""

from __future__ import annotations

import warnings

import numpy as np

from synergy._validate import SynergyConvergenceWarning

__all__ = ["MAX_ITERATIONS", "TOLERANCE", "maxent_fit"]

#: Largest marginal residual (probability) at which a fit stops; the bits move by about as much.
TOLERANCE = 1e-14
#: IPF sweeps before giving up with a warning.
MAX_ITERATIONS = 20_000


def _ratio(wanted: np.ndarray, current: np.ndarray) -> np.ndarray:
    # 0/0 = 0: cells outside the support of a marginal stay at zero.
    return np.divide(wanted, current, out=np.zeros_like(current), where=current > 0)


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
    n_sources = stack.ndim - 2
    drops = [tuple(i + 1 for i in range(n_sources) if i not in e) for e in elements]
    wanted = [stack.sum(axis=d, keepdims=True) if d else stack for d in drops]
    p_x = stack.sum(axis=-1, keepdims=True)
    q = np.broadcast_to(p_x / stack.shape[-1], stack.shape).copy()
    # p itself is feasible, so only cells where p = 0 can be forced to zero; tables without
    # such cells skip the linear programme.
    for b in np.flatnonzero((stack == 0).reshape(stack.shape[0], -1).any(axis=1)):
        q[b][_forced_zeros(stack[b], elements)] = 0.0
    active = np.arange(stack.shape[0])
    out = q
    for _ in range(max_iter):
        q = out[active]
        for d, w in zip(drops, wanted, strict=True):
            current = q.sum(axis=d, keepdims=True) if d else q
            q = q * _ratio(w[active], current)
        q = q * _ratio(p_x[active], q.sum(axis=-1, keepdims=True))
        out[active] = q
        # After the last step q(x) = p(x) exactly; the other marginals carry the residual.
        residual = np.zeros(len(active))
        for d, w in zip(drops, wanted, strict=True):
            current = q.sum(axis=d, keepdims=True) if d else q
            residual = np.maximum(
                residual, np.abs(current - w[active]).reshape(len(active), -1).sum(axis=1)
            )
        active = active[residual > tol]
        if active.size == 0:
            return out
    warnings.warn(
        f"{caller}: the maximum-entropy fit of {active.size} table(s) stopped after "
        f"{max_iter} IPF sweeps with a marginal residual above {tol:g}; pass a larger "
        "`max_iter` (or a larger `tol`) to the measure's function.",
        SynergyConvergenceWarning,
        stacklevel=3,
    )
    return out
