"""The union-information programme for many small tables at once: one compiled loop over a batch.

Private to :mod:`synergy.pid.vk`. Every table keeps its own support, Newton run and certificate.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

# The interior-point method's constants and the kernel-only decorator options are the
# single-table solver's: one home for each.
from synergy.pid._vk_solver import (
    _BALANCE,
    _INNER,
    _MEMORY,
    _PIVOT_FLOOR,
    _PIVOT_HUGE,
    _STALL_STEPS,
    _TINY_STEP,
)

__all__ = ["STATUS", "BatchAnswer", "bivariate_batch", "solve_batch"]

#: Status codes of :func:`solve_batch`, in order; "closed-form" is optimal without a solver.
STATUS = ("optimal", "iteration limit", "stalled", "closed-form")

_FIT_TOL = 1e-14  # largest |Q(x_i, y) - P(x_i, y)| at which f(Q) counts as an upper bound
_FIT_SWEEPS = 200
_TRY_CERTIFY = 10.0  # fit and certify once mu * n_blocks is within this factor of tol
# Batches of at least two chunks run on a thread pool (the kernel releases the GIL), one
# chunk of tables per task; below that, threads cost more than they save.
_CHUNK = 2048


class BatchAnswer:
    """Per-table arrays of one batch run (nats); ``q`` of shape (n_tables, n_x * n_y)."""

    __slots__ = ("entropies", "f", "iterations", "lower", "q", "status")

    def __init__(
        self,
        q: np.ndarray,
        f: np.ndarray,
        lower: np.ndarray,
        iterations: np.ndarray,
        status: np.ndarray,
        entropies: np.ndarray,
    ) -> None:
        self.q = q
        self.f = f
        self.lower = lower
        self.iterations = iterations
        self.status = status
        self.entropies = entropies  # (n_tables, 3): H(Y), H(X), H(X, Y)


def solve_batch(tables: np.ndarray, dims: np.ndarray, tol: float, max_iter: int) -> BatchAnswer:
    """Solve min f(Q) for every table of ``tables`` (shape (n_tables, n_x, n_y), float64).

    ``dims`` are the merged source sizes (their product is n_x); ``tol`` is the duality gap
    to reach, in nats. Every f is an upper bound on min f, from a Q that meets the
    marginals to ``_FIT_TOL`` (checked), and every lower a dual lower bound.
    """
    n_tables, n_x, n_y = tables.shape
    q = np.zeros((n_tables, n_x * n_y))
    f = np.empty(n_tables)
    lower = np.empty(n_tables)
    iterations = np.zeros(n_tables, dtype=np.int64)
    status = np.zeros(n_tables, dtype=np.int64)
    entropies = np.empty((n_tables, 3))
    outputs = (q, f, lower, iterations, status, entropies)
    n_chunks = min(os.cpu_count() or 1, n_tables // _CHUNK)
    if n_chunks <= 1:
        if n_tables:
            _solve_tables(tables, dims, float(tol), int(max_iter), *outputs)
        return BatchAnswer(*outputs)
    edges = np.linspace(0, n_tables, n_chunks + 1).astype(np.int64)

    def run(chunk: int) -> None:
        lo, hi = edges[chunk], edges[chunk + 1]
        # Each task writes its own rows of the outputs (views): no two tasks share memory.
        _solve_tables(
            tables[lo:hi], dims, float(tol), int(max_iter), *(out[lo:hi] for out in outputs)
        )

    with ThreadPoolExecutor(max_workers=n_chunks) as pool:
        list(pool.map(run, range(n_chunks)))
    return BatchAnswer(*outputs)


@numba.njit(cache=True, nogil=True, **_INNER)
def _index(
    t2: np.ndarray,
    dims: np.ndarray,
    p_full: np.ndarray,
    row_id: np.ndarray,
    cell_flat: np.ndarray,
    cell_rows: np.ndarray,
    cell_full: np.ndarray,
    block_start: np.ndarray,
    start_mass: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
    py: np.ndarray,
) -> tuple[int, int, int, int]:
    """The support-reduced programme of one table: returns (cells, rows, blocks, informative).

    Cells are the (x, y) with every P(x_i, y) > 0, sorted by x then y (block j holds
    ``block_start[j]:block_start[j + 1]``). Rows are the (i, x_i, y) with P(x_i, y) > 0,
    source 0 first grouped by x_0, without each other source's first row of every y (the
    others imply it), so that A has full row rank. ``start_mass`` holds the block masses
    of the product table prod_i P(x_i, y) / p(y)^(k - 1), summed from logarithms so that
    no p(y)^(k - 1) can underflow.
    """
    k = dims.shape[0]
    n_x, n_y = t2.shape
    n_full = 0
    for i in range(k):
        n_full += dims[i] * n_y
    p_full[:n_full] = 0.0
    py[:] = 0.0
    for x in range(n_x):
        rest = x
        offset = n_full
        for i in range(k - 1, -1, -1):  # source i's P(x_i, y) at offset_i + x_i * n_y + y
            offset -= dims[i] * n_y
            base = offset + (rest % dims[i]) * n_y
            rest //= dims[i]
            for y in range(n_y):
                p_full[base + y] += t2[x, y]
        for y in range(n_y):
            py[y] += t2[x, y]
    informative = 0
    offset = 0
    for i in range(k):
        used = 0
        for xi in range(dims[i]):
            for y in range(n_y):
                if p_full[offset + xi * n_y + y] > 0.0:
                    used += 1
                    break
        informative += used >= 2
        offset += dims[i] * n_y
    m = 0
    row0_start[0] = 0
    for x0 in range(dims[0]):
        for y in range(n_y):
            j = x0 * n_y + y
            row_id[j] = -1
            if p_full[j] > 0.0:
                b[m] = p_full[j]
                row_id[j] = m
                m += 1
        row0_start[x0 + 1] = m
    offset = dims[0] * n_y
    for i in range(1, k):
        for y in range(n_y):
            first = True
            for xi in range(dims[i]):
                j = offset + xi * n_y + y
                row_id[j] = -1
                if p_full[j] > 0.0:
                    if first:
                        first = False  # implied by the other rows of this y
                    else:
                        row_id[j] = -2  # kept: numbered below, in (x_i, y) order
        for xi in range(dims[i]):
            for y in range(n_y):
                j = offset + xi * n_y + y
                if row_id[j] == -2:
                    b[m] = p_full[j]
                    row_id[j] = m
                    m += 1
        offset += dims[i] * n_y
    n = 0
    nb = 0
    for x in range(n_x):
        start = n
        mass = 0.0
        for y in range(n_y):
            rest = x
            offset = n_full
            supported = True
            log_q0 = 0.0
            for i in range(k - 1, -1, -1):
                xi = rest % dims[i]
                rest //= dims[i]
                offset -= dims[i] * n_y
                j = offset + xi * n_y + y
                cell_full[n, i] = j
                cell_rows[n, i] = row_id[j]
                pj = p_full[j]
                if pj <= 0.0:
                    supported = False
                    break
                log_q0 += math.log(pj) if i == 0 else math.log(pj) - math.log(py[y])
            if not supported:
                continue
            cell_flat[n] = x * n_y + y
            mass += math.exp(log_q0)
            n += 1
        if n > start:
            block_start[nb] = start
            start_mass[nb] = mass
            nb += 1
    block_start[nb] = n
    return n, m, nb, informative


@numba.njit(cache=True, nogil=True, **_INNER)
def _apply_at(lam: np.ndarray, cell_rows: np.ndarray, n: int, out: np.ndarray) -> None:
    """out = A^T lam: c_{x,y} = sum_i lam_i(x_i, y) over the kept rows."""
    k = cell_rows.shape[1]
    for c in range(n):
        acc = 0.0
        for i in range(k):
            r = cell_rows[c, i]
            if r >= 0:
                acc += lam[r]
        out[c] = acc


@numba.njit(cache=True, nogil=True, **_INNER)
def _apply_a(v: np.ndarray, cell_rows: np.ndarray, n: int, m: int, out: np.ndarray) -> None:
    """out = A v: the marginals P(x_i, y) of the kept rows from cell values ``v``."""
    k = cell_rows.shape[1]
    out[:m] = 0.0
    for c in range(n):
        for i in range(k):
            r = cell_rows[c, i]
            if r >= 0:
                out[r] += v[c]


@numba.njit(cache=True, nogil=True, **_INNER)
def _softmax(
    c_val: np.ndarray, block_start: np.ndarray, nb: int, pi: np.ndarray, lse: np.ndarray
) -> None:
    for j in range(nb):
        lo = block_start[j]
        hi = block_start[j + 1]
        mx = -np.inf
        for c in range(lo, hi):
            mx = max(mx, c_val[c])
        acc = 0.0
        for c in range(lo, hi):
            pi[c] = math.exp(c_val[c] - mx)
            acc += pi[c]
        inv = 1.0 / acc
        for c in range(lo, hi):
            pi[c] *= inv
        lse[j] = mx + math.log(acc)


@numba.njit(cache=True, nogil=True, **_INNER)
def _objective(q: np.ndarray, block_start: np.ndarray, nb: int) -> float:
    """f(q) = sum_{x,y} q log(q / q(x)) in nats, with 0 log 0 = 0."""
    total = 0.0
    for j in range(nb):
        s = 0.0
        for c in range(block_start[j], block_start[j + 1]):
            s += q[c]
        if s <= 0.0:
            continue
        for c in range(block_start[j], block_start[j + 1]):
            if q[c] > 0.0:
                total += q[c] * math.log(q[c] / s)
    return total


@numba.njit(cache=True, nogil=True, **_INNER)
def _fit(
    q: np.ndarray,
    cell_full: np.ndarray,
    p_full: np.ndarray,
    n: int,
    marg: np.ndarray,
    out: np.ndarray,
) -> float:
    """Iterative proportional fitting of q to every P(x_i, y), into ``out``.

    Returns the worst residual |Q(x_i, y) - P(x_i, y)| over every source after the last
    sweep: the caller trusts f(out) as an upper bound only when it is within _FIT_TOL.
    """
    k = cell_full.shape[1]
    for c in range(n):
        out[c] = q[c]
    worst = np.inf
    for _sweep in range(_FIT_SWEEPS):
        previous = worst
        for i in range(k):
            marg[:] = 0.0
            for c in range(n):
                marg[cell_full[c, i]] += out[c]
            for c in range(n):
                j = cell_full[c, i]
                if marg[j] > 0.0:
                    out[c] *= p_full[j] / marg[j]
        worst = 0.0
        for i in range(k - 1):  # the last source was fitted last, exactly up to rounding
            marg[:] = 0.0
            for c in range(n):
                marg[cell_full[c, i]] += out[c]
            for c in range(n):
                worst = max(worst, abs(marg[cell_full[c, i]] - p_full[cell_full[c, i]]))
        if worst <= 1e-16 or worst >= previous:
            break  # at rounding, or rounding stops the sweeps from gaining
    # The residual of the last source too, and of any P(x_i, y) > 0 left with no mass.
    marg[:] = 0.0
    for c in range(n):
        marg[cell_full[c, k - 1]] += out[c]
    for c in range(n):
        j = cell_full[c, k - 1]
        worst = max(worst, abs(marg[j] - p_full[j]))
    return worst


@numba.njit(cache=True, nogil=True, **_INNER)
def _shift_source(
    i: int,
    cell_full: np.ndarray,
    block_start: np.ndarray,
    nb: int,
    n_y: int,
    lse: np.ndarray,
    u: np.ndarray,
    p_src: np.ndarray,
    apply: bool,
) -> float:
    """Shift every lam_i(x_i, .) down by the worst logsumexp over the blocks of that x_i.

    Returns the cost in the dual objective, sum_{x_i} P(x_i) u(x_i) (negative where every
    block of an x_i is slack: the shift then raises the bound). With ``apply`` the blocks'
    logsumexps are updated: a uniform shift of a block's scores shifts its lse exactly.
    """
    u[:] = -np.inf
    for j in range(nb):
        key = cell_full[block_start[j], i] // n_y  # (source, symbol) index
        u[key] = max(u[key], lse[j])
    cost = 0.0
    for key in range(u.shape[0]):
        if u[key] > -np.inf:
            cost += p_src[key] * u[key]
    if apply:
        for j in range(nb):
            lse[j] -= u[cell_full[block_start[j], i] // n_y]
    return cost


@numba.njit(cache=True, nogil=True, **_INNER)
def _certify(
    lam: np.ndarray,
    row_id: np.ndarray,
    cell_full: np.ndarray,
    block_start: np.ndarray,
    p_full: np.ndarray,
    n: int,
    nb: int,
    n_y: int,
    c_val: np.ndarray,
    lse: np.ndarray,
    u: np.ndarray,
    p_src: np.ndarray,
) -> float:
    """A lower bound on min f from any multipliers: the dual objective after a feasible shift.

    The dual (over every row (i, x_i, y), the dropped ones at lam = 0) is max sum P lam
    s.t. logsumexp_y (A^T lam)_{x,y} <= 0 for every x. Lowering every lam_i(x_i, .) by
    u(x_i) lowers the lse of each block x by sum_i u(x_i) and the objective by
    sum_i sum_{x_i} P(x_i) u(x_i). Feasibility comes through the source where it costs
    least; then each source in turn takes back the slack of its symbols (u <= 0), which
    only raises the bound. A block with little mass that sits slightly outside no longer
    costs the full mass of its x_0.
    """
    k = cell_full.shape[1]
    n_full = p_full.shape[0]
    value = 0.0
    for j in range(n_full):
        r = row_id[j]
        if r >= 0:
            value += p_full[j] * lam[r]
    for c in range(n):
        acc = 0.0
        for i in range(k):
            r = row_id[cell_full[c, i]]
            if r >= 0:
                acc += lam[r]
        c_val[c] = acc
    for j in range(nb):
        lo = block_start[j]
        hi = block_start[j + 1]
        mx = -np.inf
        for c in range(lo, hi):
            mx = max(mx, c_val[c])
        acc = 0.0
        for c in range(lo, hi):
            acc += math.exp(c_val[c] - mx)
        lse[j] = mx + math.log(acc)
    for key in range(u.shape[0]):
        acc = 0.0
        for y in range(n_y):
            acc += p_full[key * n_y + y]
        p_src[key] = acc
    cheapest = 0
    least = np.inf
    for i in range(k):
        cost = 0.0
        _shift_source(i, cell_full, block_start, nb, n_y, lse, u, p_src, False)
        for key in range(u.shape[0]):
            if u[key] > 0.0:
                cost += p_src[key] * u[key]
        if cost < least:
            least = cost
            cheapest = i
    value -= _shift_source(cheapest, cell_full, block_start, nb, n_y, lse, u, p_src, True)
    for _sweep in range(2):
        for i in range(k):
            value -= _shift_source(i, cell_full, block_start, nb, n_y, lse, u, p_src, True)
    return value


@numba.njit(cache=True, nogil=True, **_INNER)
def _bounds(
    q: np.ndarray,
    lam: np.ndarray,
    row_id: np.ndarray,
    cell_full: np.ndarray,
    block_start: np.ndarray,
    p_full: np.ndarray,
    n: int,
    nb: int,
    n_y: int,
    marg: np.ndarray,
    qf: np.ndarray,
    c_val: np.ndarray,
    lse: np.ndarray,
    u: np.ndarray,
    p_src: np.ndarray,
    best_q: np.ndarray,
    best: np.ndarray,
) -> bool:
    """Improve the bounds in ``best`` (upper, lower) from the iterate (q, lam).

    Upper: f of q fitted to the marginals, only if the fit's residual is within _FIT_TOL.
    Lower: :func:`_certify`. Uses (and overwrites) the c_val and lse buffers. Returns
    whether the fit passed (then ``qf`` holds the fitted q).
    """
    fitted = _fit(q, cell_full, p_full, n, marg, qf) <= _FIT_TOL
    if fitted:
        f_val = _objective(qf, block_start, nb)
        if f_val < best[0]:
            best[0] = f_val
            for c in range(n):  # a loop: a slice copy compiles numba's shape-error formatting
                best_q[c] = qf[c]
    lower = _certify(lam, row_id, cell_full, block_start, p_full, n, nb, n_y, c_val, lse, u, p_src)
    if math.isfinite(lower):
        best[1] = max(best[1], lower)
    return fitted


@numba.njit(cache=True, nogil=True, **_INNER)
def _dual_from_primal(
    qf: np.ndarray,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    n: int,
    m: int,
    nb: int,
    zeros: np.ndarray,
    target: np.ndarray,
    s_mat: np.ndarray,
    low: np.ndarray,
    rows: np.ndarray,
    vals: np.ndarray,
    lam: np.ndarray,
) -> None:
    """Multipliers that reproduce a feasible Q: weighted least squares of A^T lam ~ log Q(y|x).

    At the optimum A^T lam = log Q(y | x) on every cell of a block with mass. Fitting it
    with weights Q (normal equations A diag(Q) A^T lam = A (Q log Q(y|x))) makes the
    residual Q-orthogonal to the constants, so b.lam = f(Q) up to the fit's rounding and
    the certificate's shift pays only for what the fit leaves over. Where rounding stalls
    the Newton multipliers (tables whose entries span many orders of magnitude), a Q
    fitted to the marginals still carries the dual information.
    """
    for j in range(nb):
        mass = 0.0
        for c in range(block_start[j], block_start[j + 1]):
            mass += qf[c]
        for c in range(block_start[j], block_start[j + 1]):
            target[c] = qf[c] * math.log(qf[c] / mass) if qf[c] > 0.0 else 0.0
    _assemble(qf, zeros, cell_rows, block_start, nb, m, s_mat, rows, vals)
    _cholesky(s_mat, low, m)
    _apply_a(target, cell_rows, n, m, lam)
    _chol_solve(low, m, lam)


@numba.njit(cache=True, nogil=True, **_INNER)
def _assemble(
    q: np.ndarray,
    w: np.ndarray,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    nb: int,
    m: int,
    s_mat: np.ndarray,
    rows: np.ndarray,
    vals: np.ndarray,
) -> None:
    """Lower triangle of S = A (diag(q) + sum_x w_x q_x q_x^T) A^T, dense m x m.

    In a block every kept row appears once per source (one cell per y), so A q_x is the
    list (row, Q(x, y)) over the block's cells and sources.
    """
    k = cell_rows.shape[1]
    for a in range(m):
        for c in range(a + 1):
            s_mat[a, c] = 0.0
    for j in range(nb):
        count = 0
        for c in range(block_start[j], block_start[j + 1]):
            qc = q[c]
            for i in range(k):
                ri = cell_rows[c, i]
                if ri < 0:
                    continue
                rows[count] = ri
                vals[count] = qc
                count += 1
                for i2 in range(k):
                    r2 = cell_rows[c, i2]
                    if 0 <= r2 <= ri:
                        s_mat[ri, r2] += qc
        wj = w[j]
        for a in range(count):
            ra = rows[a]
            va = wj * vals[a]
            for c in range(count):
                rb = rows[c]
                if rb <= ra:
                    s_mat[ra, rb] += va * vals[c]


@numba.njit(cache=True, nogil=True, **_INNER)
def _cholesky(s_mat: np.ndarray, low: np.ndarray, m: int) -> None:
    """Lower Cholesky factor of the lower triangle of S, robust to interior-point cancellation.

    A pivot that cancels to rounding noise is replaced by a huge number, which zeroes that
    component of the step (S. J. Wright, "Modified Cholesky factorizations in
    interior-point algorithms for linear programming", SIAM J. Optim. 9 (1999) 1159-1191).
    The diagonal holds the reciprocals 1 / L_jj: the solves then multiply, not divide.
    """
    for j in range(m):
        d = s_mat[j, j]
        for t in range(j):
            d -= low[j, t] * low[j, t]
        if not d > _PIVOT_FLOOR * s_mat[j, j]:  # also catches NaN
            low[j, j] = 1.0 / _PIVOT_HUGE
            for i in range(j + 1, m):
                low[i, j] = 0.0
            continue
        inv = 1.0 / math.sqrt(d)
        low[j, j] = inv
        for i in range(j + 1, m):
            acc = s_mat[i, j]
            for t in range(j):
                acc -= low[i, t] * low[j, t]
            low[i, j] = acc * inv


@numba.njit(cache=True, nogil=True, **_INNER)
def _chol_solve(low: np.ndarray, m: int, x: np.ndarray) -> None:
    """x <- S^{-1} x in place with S = L L^T (``low`` from :func:`_cholesky`)."""
    for i in range(m):
        acc = x[i]
        for t in range(i):
            acc -= low[i, t] * x[t]
        x[i] = acc * low[i, i]
    for i in range(m - 1, -1, -1):
        xi = x[i] * low[i, i]
        x[i] = xi
        for t in range(i):
            x[t] -= low[i, t] * xi


@numba.njit(cache=True, nogil=True, **_INNER)
def _max_step(v: np.ndarray, dv: np.ndarray, count: int) -> float:
    alpha = 1.0
    for c in range(count):
        if dv[c] < 0.0:
            alpha = min(alpha, -v[c] / dv[c])
    return alpha


@numba.njit(cache=True, nogil=True, **_INNER)
def _merit(
    lam: np.ndarray,
    s: np.ndarray,
    t: np.ndarray,
    dlam: np.ndarray,
    ds: np.ndarray,
    dt: np.ndarray,
    alpha_p: float,
    alpha_d: float,
    target: float,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    b: np.ndarray,
    n: int,
    m: int,
    nb: int,
    work: np.ndarray,
) -> tuple[float, float, float]:
    """||A q - b||^2 + ||lse + t||^2 + ||s t - target||^2 at a trial step.

    Also returns max |A q - b| and the duality measure mu there. ``work`` has 6 rows of
    scratch (lam, c, pi, q, A q, lse) of the table's largest size; pi and lse stay there
    for the next iteration when the step is taken.
    """
    lam_try = work[0]
    c_val = work[1]
    pi = work[2]
    q = work[3]
    r1 = work[4]
    lse_out = work[5]
    for r in range(m):
        lam_try[r] = lam[r] + alpha_p * dlam[r]
    _apply_at(lam_try, cell_rows, n, c_val)
    total = 0.0
    mu = 0.0
    for j in range(nb):
        lo = block_start[j]
        hi = block_start[j + 1]
        mx = -np.inf
        for c in range(lo, hi):
            mx = max(mx, c_val[c])
        acc = 0.0
        for c in range(lo, hi):
            pi[c] = math.exp(c_val[c] - mx)
            acc += pi[c]
        lse = mx + math.log(acc)
        lse_out[j] = lse
        s_try = s[j] + alpha_d * ds[j]
        t_try = t[j] + alpha_p * dt[j]
        mu += s_try * t_try
        inv = 1.0 / acc
        for c in range(lo, hi):
            pi[c] *= inv
            q[c] = s_try * pi[c]
        res2 = lse + t_try
        res3 = s_try * t_try - target
        total += res2 * res2 + res3 * res3
    _apply_a(q, cell_rows, n, m, r1)
    worst = 0.0
    for r in range(m):
        d = r1[r] - b[r]
        total += d * d
        worst = max(worst, abs(d))
    return total, worst, mu / nb


@numba.njit(cache=True, nogil=True, **_INNER)
def _newton(
    cell_rows: np.ndarray,
    cell_full: np.ndarray,
    block_start: np.ndarray,
    row_id: np.ndarray,
    start_mass: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
    p_full: np.ndarray,
    n: int,
    m: int,
    nb: int,
    n_y: int,
    tol: float,
    max_iter: int,
    best_q: np.ndarray,
    best: np.ndarray,
    vec_n: np.ndarray,
    vec_m: np.ndarray,
    vec_b: np.ndarray,
    s_mat: np.ndarray,
    low: np.ndarray,
    marg: np.ndarray,
    work: np.ndarray,
    rows: np.ndarray,
    src: np.ndarray,
    uniform: bool,
) -> tuple[int, int]:
    """Primal-dual interior-point method on the dual of one table (Mehrotra predictor-corrector).

    Unknowns: lam (one per kept row), slacks t_x = -lse_x and block masses s_x = Q(x), the
    multipliers of the constraints (complementarity s_x t_x = mu); Q = s_x softmax(c_x).
    The Newton system reduces to S = A (diag q + w q q^T) A^T. ``best`` holds the upper
    and lower bounds on entry (from a feasible Q already in ``best_q``) and improves them.
    Returns (iterations, status).
    """
    lam = vec_m[0]
    dlam = vec_m[1]
    r1 = vec_m[2]
    rhs = vec_m[3]
    c_val = vec_n[0]
    pi = vec_n[1]
    q = vec_n[2]
    v_cells = vec_n[3]
    g = vec_n[4]
    qf = vec_n[5]
    vals = vec_n[6]  # (row, value) list of A q_x, at most n_y * k long
    lse = vec_b[0]
    t = vec_b[1]
    s = vec_b[2]
    r2 = vec_b[3]
    w = vec_b[4]
    dt = vec_b[5]
    ds = vec_b[6]
    corr = vec_b[7]
    hist = vec_b[8]
    u = src[0]
    p_src = src[1]
    lam[:m] = 0.0
    widest = 0.0
    for j in range(nb):
        widest = max(widest, math.log(block_start[j + 1] - block_start[j]))
    for g0 in range(row0_start.shape[0] - 1):
        mass = 0.0
        for r in range(row0_start[g0], row0_start[g0 + 1]):
            mass += b[r]
        for r in range(row0_start[g0], row0_start[g0 + 1]):
            # Every lse <= -1: strictly feasible. The uniform start takes another path to
            # the optimum, for tables where rounding stalls the first one.
            lam[r] = -(widest + 1.0) if uniform else math.log(b[r] / mass) - 1.0
    _apply_at(lam, cell_rows, n, c_val)
    _softmax(c_val, block_start, nb, pi, lse)
    for j in range(nb):
        t[j] = -lse[j]
        # Half the product table's mass, half uniform: a block that the product table
        # nearly empties would otherwise pin the masses' step length at zero.
        s[j] = 1.0 / nb if uniform else 0.5 / nb + 0.5 * start_mass[j]
    hist[:_MEMORY] = -np.inf
    balance = 0.0
    tiny_steps = 0
    status = 1
    it = 0
    reuse = False
    for it in range(max_iter + 1):
        if reuse:  # the line search's last trial is where we now stand
            for c in range(n):
                pi[c] = work[2, c]
            for j in range(nb):
                lse[j] = work[5, j]
        else:
            _apply_at(lam, cell_rows, n, c_val)
            _softmax(c_val, block_start, nb, pi, lse)
        mu = 0.0
        for j in range(nb):
            for c in range(block_start[j], block_start[j + 1]):
                q[c] = s[j] * pi[c]
            r2[j] = lse[j] + t[j]
            mu += s[j] * t[j]
        mu /= nb
        _apply_a(q, cell_rows, n, m, r1)
        res1 = 0.0
        for r in range(m):
            r1[r] -= b[r]
            res1 = max(res1, abs(r1[r]))
        # Certify only when the duality measure says we are close: fitting costs sweeps.
        if mu * nb <= _TRY_CERTIFY * tol or it == max_iter:
            fitted = _bounds(
                q,
                lam,
                row_id,
                cell_full,
                block_start,
                p_full,
                n,
                nb,
                n_y,
                marg,
                qf,
                c_val,
                lse,
                u,
                p_src,
                best_q,
                best,
            )
            if fitted and best[0] - best[1] > tol:
                w[:nb] = 0.0
                _dual_from_primal(
                    qf, cell_rows, block_start, n, m, nb, w, v_cells, s_mat, low, rows, vals, dlam
                )
                lower = _certify(
                    dlam, row_id, cell_full, block_start, p_full, n, nb, n_y, c_val, lse, u, p_src
                )
                if math.isfinite(lower):
                    best[1] = max(best[1], lower)
            if best[0] - best[1] <= tol:
                status = 0
                break
        if it == max_iter:
            break
        if it == 0:
            # Capped: a start that is already feasible (res1 = 0) must not forbid rounding.
            balance = mu / max(res1, mu)
        for j in range(nb):
            w[j] = (1.0 - t[j]) / (s[j] * t[j])
        _assemble(q, w, cell_rows, block_start, nb, m, s_mat, rows, vals)
        _cholesky(s_mat, low, m)
        sigma_mu = 0.0
        alpha_p = 1.0
        alpha_d = 1.0
        corr[:nb] = 0.0
        for phase in range(2):
            if phase == 1:
                mu_aff = 0.0
                for j in range(nb):
                    mu_aff += (s[j] + alpha_d * ds[j]) * (t[j] + alpha_p * dt[j])
                mu_aff /= nb
                sigma = min(1.0, (mu_aff / mu) ** 3)
                sigma_mu = max(sigma * mu, _BALANCE * balance * res1)
                for j in range(nb):
                    corr[j] = ds[j] * dt[j]
            for j in range(nb):
                r3 = s[j] * t[j] + corr[j] - sigma_mu
                beta = (-r3 + s[j] * r2[j]) / t[j]
                for c in range(block_start[j], block_start[j + 1]):
                    v_cells[c] = beta * pi[c]
            _apply_a(v_cells, cell_rows, n, m, rhs)
            for r in range(m):
                dlam[r] = -r1[r] - rhs[r]
            _chol_solve(low, m, dlam)
            _apply_at(dlam, cell_rows, n, g)
            for j in range(nb):
                adot = 0.0
                for c in range(block_start[j], block_start[j + 1]):
                    adot += pi[c] * g[c]
                dt[j] = -r2[j] - adot
                r3 = s[j] * t[j] + corr[j] - sigma_mu
                ds[j] = (-r3 - s[j] * dt[j]) / t[j]
            alpha_p = _max_step(t, dt, nb)
            alpha_d = _max_step(s, ds, nb)
        finite = True
        for r in range(m):
            finite &= math.isfinite(dlam[r])
        for j in range(nb):
            finite &= math.isfinite(ds[j]) and math.isfinite(dt[j])
        if not finite:
            status = 2
            break
        alpha_p = min(1.0, 0.99 * alpha_p)
        alpha_d = min(1.0, 0.99 * alpha_d)
        # Globalise on the KKT residual: softmax is nonlinear, so a full step that the
        # linear model calls feasible can leave A q far from b (then mu must not race ahead).
        phi0 = 0.0  # the merit where we stand, from the residuals already at hand
        for r in range(m):
            phi0 += r1[r] * r1[r]
        for j in range(nb):
            r3 = s[j] * t[j] - sigma_mu
            phi0 += r2[j] * r2[j] + r3 * r3
        if it == 0:
            # Let the first steps leave the (arbitrary) start boldly: the merit may rise up
            # to 10x while the first value stays in the window.
            hist[1:_MEMORY] = 10.0 * phi0
        hist[it % _MEMORY] = phi0
        phi_ref = -np.inf
        for h in range(_MEMORY):
            phi_ref = max(phi_ref, hist[h])
        reuse = False
        for _ls in range(40):
            phi1, res_try, mu_try = _merit(
                lam,
                s,
                t,
                dlam,
                ds,
                dt,
                alpha_p,
                alpha_d,
                sigma_mu,
                cell_rows,
                block_start,
                b,
                n,
                m,
                nb,
                work,
            )
            # Infeasibility may not lag behind complementarity (Wright 1997, ch. 6): once
            # mu is far below what A q - b justifies, the iterates stick to a wrong face.
            if (
                phi1 <= (1.0 - 1e-4 * min(alpha_p, alpha_d)) * phi_ref
                and mu_try >= _BALANCE * balance * res_try
            ):
                reuse = True
                break
            alpha_p *= 0.5
            alpha_d *= 0.5
        # A run of tiny steps means rounding now dominates the Newton direction.
        if alpha_p < _TINY_STEP:
            tiny_steps += 1
            if tiny_steps >= _STALL_STEPS:
                status = 2
                break
        else:
            tiny_steps = 0
        for r in range(m):
            lam[r] += alpha_p * dlam[r]
        for j in range(nb):
            t[j] += alpha_p * dt[j]
            s[j] += alpha_d * ds[j]
    if status == 2:
        # A last try from where the run stopped: its bounds are as valid as any other.
        _bounds(
            q,
            lam,
            row_id,
            cell_full,
            block_start,
            p_full,
            n,
            nb,
            n_y,
            marg,
            qf,
            c_val,
            lse,
            u,
            p_src,
            best_q,
            best,
        )
        if best[0] - best[1] <= tol:
            status = 0
    return it, status


@numba.njit(cache=True, nogil=True, **_INNER)
def _neg_xlogx(v: float) -> float:
    return -v * math.log(v) if v > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def _solve_tables(
    tables: np.ndarray,
    dims: np.ndarray,
    tol: float,
    max_iter: int,
    q_out: np.ndarray,
    f_out: np.ndarray,
    lower_out: np.ndarray,
    it_out: np.ndarray,
    status_out: np.ndarray,
    ent_out: np.ndarray,
) -> None:
    """Every table of the batch in turn, with workspaces allocated once for the largest size."""
    n_tables, n_x, n_y = tables.shape
    k = dims.shape[0]
    n_full = 0
    n0 = dims[0]
    for i in range(k):
        n_full += dims[i] * n_y
    n_max = n_x * n_y
    m_max = n_full
    p_full = np.empty(n_full)
    row_id = np.empty(n_full, dtype=np.int64)
    cell_flat = np.empty(n_max, dtype=np.int64)
    cell_rows = np.empty((n_max, k), dtype=np.int64)
    cell_full = np.empty((n_max, k), dtype=np.int64)
    block_start = np.empty(n_x + 1, dtype=np.int64)
    start_mass = np.empty(n_x)
    b = np.empty(m_max)
    row0_start = np.empty(n0 + 1, dtype=np.int64)
    py = np.empty(n_y)
    best_q = np.empty(n_max)
    best = np.empty(2)
    vec_n = np.empty((7, max(n_max, m_max)))
    rows = np.empty(n_y * k, dtype=np.int64)
    vec_m = np.empty((4, m_max))
    vec_b = np.empty((9, max(n_x, _MEMORY)))
    src = np.empty((2, n_full // n_y))  # per (source, symbol): shift and P(x_i)
    s_mat = np.empty((m_max, m_max))
    low = np.empty((m_max, m_max))
    marg = np.empty(n_full)
    work = np.empty((6, max(n_max, m_max)))
    for tab in range(n_tables):
        t2 = tables[tab]
        n, m, nb, informative = _index(
            t2,
            dims,
            p_full,
            row_id,
            cell_flat,
            cell_rows,
            cell_full,
            block_start,
            start_mass,
            b,
            row0_start,
            py,
        )
        h_y = 0.0
        for y in range(n_y):
            h_y += _neg_xlogx(py[y])
        h_x = 0.0
        h_xy = 0.0
        for x in range(n_x):
            px = 0.0
            for y in range(n_y):
                px += t2[x, y]
                h_xy += _neg_xlogx(t2[x, y])
            h_x += _neg_xlogx(px)
        ent_out[tab, 0] = h_y
        ent_out[tab, 1] = h_x
        ent_out[tab, 2] = h_xy
        # P itself is feasible: f(P) bounds min f from above, and I_VK >= 0 gives
        # f >= -H(Y) from below, so every table leaves with finite bounds.
        for c in range(n):
            best_q[c] = t2[cell_flat[c] // n_y, cell_flat[c] % n_y]
        best[0] = h_x - h_xy
        best[1] = -h_y
        if informative < 2 or n == nb:
            # Q = P is the only feasible Q, or every block holds one cell (f = 0 for all Q).
            best[1] = best[0]
            iterations = 0
            status = 3 if informative < 2 else 0
        else:
            # From the product start, then once more from the uniform start if that run
            # does not certify; the bounds of both runs stand.
            iterations = 0
            for uniform_start in (False, True):
                its, status = _newton(
                    cell_rows,
                    cell_full,
                    block_start,
                    row_id,
                    start_mass,
                    b,
                    row0_start,
                    p_full,
                    n,
                    m,
                    nb,
                    n_y,
                    tol,
                    max_iter,
                    best_q,
                    best,
                    vec_n,
                    vec_m,
                    vec_b,
                    s_mat,
                    low,
                    marg,
                    work,
                    rows,
                    src,
                    uniform_start,
                )
                iterations += its
                if status == 0:
                    break
        q_row = q_out[tab]
        for c in range(n):
            q_row[cell_flat[c]] = best_q[c]
        f_out[tab] = best[0]
        # A lower bound above the upper one is rounding (both are valid bounds).
        lower_out[tab] = min(best[1], best[0])
        it_out[tab] = iterations
        status_out[tab] = status


@numba.njit(cache=True, nogil=True)
def bivariate_batch(p: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """UI_1 = I_Q(Y; X1 | X2), UI_2 = I_Q(Y; X2 | X1), I_P(X1; Y) in nats, per table.

    ``p`` and ``q`` have shape (n_tables, n_1, n_2, n_y); ``out`` (n_tables, 3). Entropies
    of the marginals of Q (0 log 0 = 0), with one set of scratch arrays for the batch.
    """
    n_tables, n1, n2, ny = q.shape
    q12 = np.empty((n1, n2))
    q1y = np.empty((n1, ny))
    q2y = np.empty((n2, ny))
    p1y = np.empty((n1, ny))
    for tab in range(n_tables):
        q12[:] = 0.0
        q1y[:] = 0.0
        q2y[:] = 0.0
        p1y[:] = 0.0
        h_q = 0.0
        for a in range(n1):
            for c in range(n2):
                for y in range(ny):
                    v = q[tab, a, c, y]
                    h_q += _neg_xlogx(v)
                    q12[a, c] += v
                    q1y[a, y] += v
                    q2y[c, y] += v
                    p1y[a, y] += p[tab, a, c, y]
        h_q12 = 0.0
        h_q1 = 0.0
        h_q2 = 0.0
        for a in range(n1):
            row = 0.0
            for c in range(n2):
                h_q12 += _neg_xlogx(q12[a, c])
                row += q12[a, c]
            h_q1 += _neg_xlogx(row)
        for c in range(n2):
            col = 0.0
            for a in range(n1):
                col += q12[a, c]
            h_q2 += _neg_xlogx(col)
        h_q1y = 0.0
        h_p1y = 0.0
        h_p1 = 0.0
        for a in range(n1):
            row = 0.0
            for y in range(ny):
                h_q1y += _neg_xlogx(q1y[a, y])
                h_p1y += _neg_xlogx(p1y[a, y])
                row += p1y[a, y]
            h_p1 += _neg_xlogx(row)
        h_q2y = 0.0
        for c in range(n2):
            for y in range(ny):
                h_q2y += _neg_xlogx(q2y[c, y])
        h_py = 0.0
        for y in range(ny):
            col = 0.0
            for a in range(n1):
                col += p1y[a, y]
            h_py += _neg_xlogx(col)
        out[tab, 0] = h_q12 + h_q2y - h_q - h_q2
        out[tab, 1] = h_q12 + h_q1y - h_q - h_q1
        out[tab, 2] = h_p1 + h_py - h_p1y
