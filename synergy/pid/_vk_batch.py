"""The union-information programme for many small tables at once: one compiled loop over a batch.

Private to :mod:`synergy.pid.vk`. Every table keeps its own support, Newton run and certificate.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from synergy._kernels import read_only
from synergy._tier import Tiered
from synergy.information import entropy_bits

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

__all__ = ["STATUS", "BatchAnswer", "bivariate_terms", "solve_batch", "table_entropies"]

#: Status codes of :func:`solve_batch`, in order; "closed-form" is optimal without a solver.
STATUS = ("optimal", "iteration limit", "stalled", "closed-form")

_FIT_TOL = 1e-14  # largest |Q(x_i, y) - P(x_i, y)| at which f(Q) counts as an upper bound
_FIT_SWEEPS = 200
_TRY_CERTIFY = 10.0  # fit and certify once mu * n_blocks is within this factor of tol
# Batches of at least two chunks run on a thread pool (the kernel releases the GIL), one
# chunk of tables per task; below that, threads cost more than they save.
_CHUNK = 2048
_LN2 = math.log(2.0)


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


def solve_batch(
    tables: np.ndarray, dims: np.ndarray, tol: float, max_iter: int, *, tiered: bool = False
) -> BatchAnswer:
    """Solve min f(Q) for every table of ``tables`` (shape (n_tables, n_x, n_y), float64).

    ``dims`` are the merged source sizes (their product is n_x); ``tol`` is the duality gap
    to reach, in nats. Every f is an upper bound on min f, from a Q that meets the
    marginals to ``_FIT_TOL`` (checked), and every lower a dual lower bound. ``tiered``
    (a single table): run the kernel interpreted while compiling it is not yet worth it
    (see :class:`synergy._tier.Tiered`); a batch always runs compiled.
    """
    # Read-only, contiguous inputs: writability and layout are part of a numba type, and a
    # read-only gate and a user's array would otherwise each compile the whole kernel.
    tables = read_only(np.ascontiguousarray(tables, dtype=np.float64))
    dims = read_only(np.ascontiguousarray(dims, dtype=np.int64))
    n_tables, n_x, n_y = tables.shape
    q = np.zeros((n_tables, n_x * n_y))
    f = np.empty(n_tables)
    lower = np.empty(n_tables)
    iterations = np.zeros(n_tables, dtype=np.int64)
    status = np.zeros(n_tables, dtype=np.int64)
    entropies = read_only(table_entropies(tables))
    outputs = (q, f, lower, iterations, status)
    n_chunks = min(os.cpu_count() or 1, n_tables // _CHUNK)
    if n_chunks <= 1:
        if n_tables:
            kernel = _SOLVE_TABLES.run if tiered else _solve_tables
            kernel(tables, entropies, dims, float(tol), int(max_iter), *outputs)
        return BatchAnswer(*outputs, entropies)
    edges = np.linspace(0, n_tables, n_chunks + 1).astype(np.int64)

    def run(chunk: int) -> None:
        lo, hi = edges[chunk], edges[chunk + 1]
        # Each task writes its own rows of the outputs (views): no two tasks share memory.
        _solve_tables(
            tables[lo:hi],
            entropies[lo:hi],
            dims,
            float(tol),
            int(max_iter),
            *(out[lo:hi] for out in outputs),
        )

    with ThreadPoolExecutor(max_workers=n_chunks) as pool:
        list(pool.map(run, range(n_chunks)))
    return BatchAnswer(*outputs, entropies)


def table_entropies(tables: np.ndarray) -> np.ndarray:
    """H(Y), H(X) and H(X, Y) in nats of every table of shape (n_tables, n_x, n_y).

    Shape (n_tables, 3), from the library's one entropy (:func:`synergy.information.entropy_bits`).
    """
    columns = [entropy_bits(tables, 1, axes) for axes in ((1,), (0,), (0, 1))]
    return np.ascontiguousarray(np.stack(columns, axis=-1) * _LN2)


def bivariate_terms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """UI_1 = I_Q(Y; X1 | X2), UI_2 = I_Q(Y; X2 | X1) and I_P(X1; Y) in nats, per table.

    ``p`` and ``q`` have shape (n_tables, n_1, n_2, n_y); the result (n_tables, 3). Sums of
    entropies of marginals, from the library's one entropy (0 log 0 = 0).
    """
    p = np.ascontiguousarray(p, dtype=np.float64)
    q = np.ascontiguousarray(q, dtype=np.float64)

    def h(t: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return entropy_bits(t, 1, axes) * _LN2

    h_q, h_q12 = h(q, (0, 1, 2)), h(q, (0, 1))
    ui1 = h_q12 + h(q, (1, 2)) - h_q - h(q, (1,))
    ui2 = h_q12 + h(q, (0, 2)) - h_q - h(q, (0,))
    mi1 = h(p, (0,)) + h(p, (2,)) - h(p, (0, 2))
    return np.stack([ui1, ui2, mi1], axis=-1)


@numba.njit(cache=True, nogil=True, **_INNER)
def _factor(
    q: np.ndarray,
    w: np.ndarray,
    cell_rows: np.ndarray,
    k: int,
    block_start: np.ndarray,
    nb: int,
    m: int,
    s_mat: np.ndarray,
    low: np.ndarray,
    rows: np.ndarray,
    vals: np.ndarray,
) -> None:
    """Cholesky factor of S = A (diag(q) + sum_x w_x q_x q_x^T) A^T, dense m x m (row-major).

    In a block every kept row appears once per source (one cell per y), so A q_x is the
    list (row, Q(x, y)) over the block's cells and sources; ``cell_rows`` is (cell, source)
    flattened. The factor is robust to interior-point cancellation: a pivot that cancels to
    rounding noise is replaced by a huge number, which zeroes that component of the step
    (S. J. Wright, "Modified Cholesky factorizations in interior-point algorithms for linear
    programming", SIAM J. Optim. 9 (1999) 1159-1191). The diagonal of ``low`` holds the
    reciprocals 1 / L_jj: the solves then multiply, not divide.
    """
    for a in range(m):
        for c in range(a + 1):
            s_mat[a * m + c] = 0.0
    for j in range(nb):
        count = 0
        for c in range(block_start[j], block_start[j + 1]):
            qc = q[c]
            for i in range(k):
                ri = cell_rows[c * k + i]
                if ri < 0:
                    continue
                rows[count] = ri
                vals[count] = qc
                count += 1
                for i2 in range(k):
                    r2 = cell_rows[c * k + i2]
                    if 0 <= r2 <= ri:
                        s_mat[ri * m + r2] += qc
        wj = w[j]
        for a in range(count):
            ra = rows[a]
            va = wj * vals[a]
            for c in range(count):
                rb = rows[c]
                if rb <= ra:
                    s_mat[ra * m + rb] += va * vals[c]
    for j in range(m):
        d = s_mat[j * m + j]
        for t in range(j):
            d -= low[j * m + t] * low[j * m + t]
        if not d > _PIVOT_FLOOR * s_mat[j * m + j]:  # also catches NaN
            low[j * m + j] = 1.0 / _PIVOT_HUGE
            for i in range(j + 1, m):
                low[i * m + j] = 0.0
            continue
        inv = 1.0 / math.sqrt(d)
        low[j * m + j] = inv
        for i in range(j + 1, m):
            acc = s_mat[i * m + j]
            for t in range(j):
                acc -= low[i * m + t] * low[j * m + t]
            low[i * m + j] = acc * inv


@numba.njit(cache=True, nogil=True, **_INNER)
def _chol_solve(low: np.ndarray, m: int, x: np.ndarray) -> None:
    """x <- S^{-1} x in place with S = L L^T (``low`` from :func:`_factor`)."""
    for i in range(m):
        acc = x[i]
        for t in range(i):
            acc -= low[i * m + t] * x[t]
        x[i] = acc * low[i * m + i]
    for i in range(m - 1, -1, -1):
        xi = x[i] * low[i * m + i]
        x[i] = xi
        for t in range(i):
            x[t] -= low[i * m + t] * xi


@numba.njit(cache=True, nogil=True)
def _solve_tables(
    tables: np.ndarray,
    entropies: np.ndarray,
    dims: np.ndarray,
    tol: float,
    max_iter: int,
    q_out: np.ndarray,
    f_out: np.ndarray,
    lower_out: np.ndarray,
    it_out: np.ndarray,
    status_out: np.ndarray,
) -> None:
    """Every table of the batch in turn, with workspaces allocated once for the largest size.

    One flat function on purpose: numba compiles each called kernel in its own module and
    re-optimises it inside every caller, so a chain of helpers costs a first call several
    times its code. Only the Newton system's factor and solve are separate (each is used
    by the Newton step and by the certificate's multipliers).

    Per table: the support-reduced programme (cells with every P(x_i, y) > 0; rows the
    (i, x_i, y) with P(x_i, y) > 0, without each other source's first row of every y, so
    that A has full row rank), then a primal-dual interior-point method on the dual
    (Mehrotra predictor-corrector), from the product start and, if that run does not
    certify, once more from the uniform start. Unknowns: lam (one per kept row), slacks
    t_x = -lse_x and block masses s_x = Q(x), the multipliers of the constraints
    (complementarity s_x t_x = mu); Q = s_x softmax(c_x) with c = A^T lam. The Newton
    system reduces to S = A (diag q + w q q^T) A^T. Bounds: f of the iterate fitted to the
    marginals (only if the fit's residual is within _FIT_TOL) from above, the dual
    objective of shifted multipliers (the iterate's, and those that reproduce the fitted
    Q) from below.
    """
    n_tables, n_x, n_y = tables.shape
    k = dims.shape[0]
    n_full = 0
    for i in range(k):
        n_full += dims[i] * n_y
    n_src = n_full // n_y
    n_max = n_x * n_y
    m_max = n_full
    n_vec = n_max if n_max > m_max else m_max
    n_blk = n_x if n_x > _MEMORY else _MEMORY
    # Cells and rows of one table; (cell, source) arrays are flattened, cell-major.
    p_full = np.empty(n_full)  # every source's P(x_i, y), source i at offset_i + x_i n_y + y
    row_id = np.empty(n_full, np.int64)  # kept row of each (i, x_i, y), or -1
    p_src = np.empty(n_src)  # P(x_i) per (source, symbol)
    u = np.empty(n_src)  # the certificate's shift per (source, symbol)
    cell_flat = np.empty(n_max, np.int64)
    cell_rows = np.empty(n_max * k, np.int64)
    cell_full = np.empty(n_max * k, np.int64)
    block_start = np.empty(n_x + 1, np.int64)
    start_mass = np.empty(n_blk)
    row0_start = np.empty(dims[0] + 1, np.int64)
    py = np.empty(n_y)
    b = np.empty(m_max)
    rows = np.empty(n_y * k, np.int64)
    best_q = np.empty(n_max)
    best = np.empty(2)  # (upper, lower) bound on min f
    # The interior-point method's vectors; the _try ones hold a line-search trial, which
    # becomes the current point by swapping names.
    lam = np.empty(m_max)
    dlam = np.empty(m_max)
    lam_try = np.empty(m_max)
    r1 = np.empty(m_max)
    r1_try = np.empty(m_max)
    rhs = np.empty(m_max)
    c_val = np.empty(n_vec)
    pi = np.empty(n_vec)
    pi_try = np.empty(n_vec)
    q = np.empty(n_vec)
    q_try = np.empty(n_vec)
    v_cells = np.empty(n_vec)
    qf = np.empty(n_vec)
    vals = np.empty(n_vec)
    lse = np.empty(n_blk)
    lse_try = np.empty(n_blk)
    t = np.empty(n_blk)
    s = np.empty(n_blk)
    r2 = np.empty(n_blk)
    w = np.empty(n_blk)
    dt = np.empty(n_blk)
    ds = np.empty(n_blk)
    corr = np.empty(n_blk)
    hist = np.empty(n_blk)
    marg = np.empty(n_full)
    s_mat = np.empty(m_max * m_max)
    low = np.empty(m_max * m_max)
    for tab in range(n_tables):
        # ---- The support-reduced programme of this table.
        for j in range(n_full):
            p_full[j] = 0.0
        for y in range(n_y):
            py[y] = 0.0
        for x in range(n_x):
            rest = x
            offset = n_full
            for i in range(k - 1, -1, -1):  # source i's P(x_i, y) at offset_i + x_i * n_y + y
                offset -= dims[i] * n_y
                base = offset + (rest % dims[i]) * n_y
                rest //= dims[i]
                for y in range(n_y):
                    p_full[base + y] += tables[tab, x, y]
            for y in range(n_y):
                py[y] += tables[tab, x, y]
        for key in range(n_src):
            acc = 0.0
            for y in range(n_y):
                acc += p_full[key * n_y + y]
            p_src[key] = acc
        # Sources that use two symbols or more: with fewer than two, Q = P is the only Q.
        informative = 0
        offset = 0
        for i in range(k):
            used = 0
            for xi in range(dims[i]):
                if p_src[offset + xi] > 0.0:
                    used += 1
            if used >= 2:
                informative += 1
            offset += dims[i]
        # Rows: source 0 grouped by x_0, then each other source without its first row of
        # every y (the others imply it), numbered in (x_i, y) order.
        # Counters start from a typed zero: a literal 0 makes numba type the helpers'
        # calls with Literal[int](0) first and compile them once more for it.
        zero = dims.shape[0] - k
        m = zero
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
        # Cells: the (x, y) with every P(x_i, y) > 0, by x then y; block j holds
        # block_start[j]:block_start[j + 1]. start_mass holds the block masses of the
        # product table prod_i P(x_i, y) / p(y)^(k - 1), summed from logarithms so that no
        # p(y)^(k - 1) can underflow.
        n = zero
        nb = zero
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
                    cell_full[n * k + i] = j
                    cell_rows[n * k + i] = row_id[j]
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
        # P itself is feasible: f(P) bounds min f from above, and I_VK >= 0 gives
        # f >= -H(Y) from below, so every table leaves with finite bounds.
        for c in range(n):
            best_q[c] = tables[tab, cell_flat[c] // n_y, cell_flat[c] % n_y]
        best[0] = entropies[tab, 1] - entropies[tab, 2]  # H(X) - H(X, Y)
        best[1] = -entropies[tab, 0]  # -H(Y)
        iterations = 0
        status = 0
        n_starts = 2
        if informative < 2 or n == nb:
            # Q = P is the only feasible Q, or every block holds one cell (f = 0 for all Q).
            best[1] = best[0]
            status = 3 if informative < 2 else 0
            n_starts = 0
        widest = 0.0
        for j in range(nb):
            width = math.log(block_start[j + 1] - block_start[j])
            widest = width if width > widest else widest
        # ---- From the product start, then once more from the uniform start if that run
        # does not certify; the bounds of both runs stand.
        for start in range(n_starts):
            uniform = start == 1
            for r in range(m):
                lam[r] = 0.0
            for g0 in range(dims[0]):
                mass = 0.0
                for r in range(row0_start[g0], row0_start[g0 + 1]):
                    mass += b[r]
                for r in range(row0_start[g0], row0_start[g0 + 1]):
                    # Every lse <= -1: strictly feasible. The uniform start takes another
                    # path to the optimum, for tables where rounding stalls the first one.
                    lam[r] = -(widest + 1.0) if uniform else math.log(b[r] / mass) - 1.0
            for r in range(m):
                dlam[r] = 0.0
            for j in range(nb):
                # Half the product table's mass, half uniform: a block that the product
                # table nearly empties would otherwise pin the masses' step length at zero.
                s[j] = 1.0 / nb if uniform else 0.5 / nb + 0.5 * start_mass[j]
                t[j] = 0.0  # set from the start's lse below
                ds[j] = 0.0
                dt[j] = 0.0
            for h in range(_MEMORY):
                hist[h] = -np.inf
            balance = 0.0
            phi_ref = 0.0
            sigma_mu = 0.0
            alpha_max_p = 1.0
            alpha_max_d = 1.0
            tiny_steps = 0
            status = 1
            it = 0  # Newton steps taken
            fresh = True  # the point (lam, s, t) is not evaluated yet
            stop = False  # a stalled or non-finite run: take its bounds, then end
            while True:
                alpha_p = 0.0
                alpha_d = 0.0
                if not stop:
                    # Trials along the Newton direction (a non-monotone line search on the
                    # KKT residual), or one trial at the point itself when it is fresh.
                    # Softmax is nonlinear: a full step that the linear model calls feasible
                    # can leave A q far from b (then mu must not race ahead).
                    if not fresh:
                        alpha_p = 0.99 * alpha_max_p if alpha_max_p < 1.0 / 0.99 else 1.0
                        alpha_d = 0.99 * alpha_max_d if alpha_max_d < 1.0 / 0.99 else 1.0
                    accepted = fresh
                    for _trial in range(1 if fresh else 40):
                        for r in range(m):
                            lam_try[r] = lam[r] + alpha_p * dlam[r]
                        for c in range(n):
                            acc = 0.0
                            for i in range(k):
                                r = cell_rows[c * k + i]
                                if r >= 0:
                                    acc += lam_try[r]
                            c_val[c] = acc
                        phi1 = 0.0
                        mu_try = 0.0
                        for j in range(nb):
                            lo = block_start[j]
                            hi = block_start[j + 1]
                            mx = -np.inf
                            for c in range(lo, hi):
                                mx = c_val[c] if c_val[c] > mx else mx
                            acc = 0.0
                            for c in range(lo, hi):
                                pi_try[c] = math.exp(c_val[c] - mx)
                                acc += pi_try[c]
                            lse_try[j] = mx + math.log(acc)
                            s_try = s[j] + alpha_d * ds[j]
                            t_try = t[j] + alpha_p * dt[j]
                            mu_try += s_try * t_try
                            inv = 1.0 / acc
                            for c in range(lo, hi):
                                pi_try[c] *= inv
                                q_try[c] = s_try * pi_try[c]
                            res2 = lse_try[j] + t_try
                            res3 = s_try * t_try - sigma_mu
                            phi1 += res2 * res2 + res3 * res3
                        for r in range(m):
                            r1_try[r] = 0.0
                        for c in range(n):
                            for i in range(k):
                                r = cell_rows[c * k + i]
                                if r >= 0:
                                    r1_try[r] += q_try[c]
                        res_try = 0.0
                        for r in range(m):
                            r1_try[r] -= b[r]
                            phi1 += r1_try[r] * r1_try[r]
                            res_try = abs(r1_try[r]) if abs(r1_try[r]) > res_try else res_try
                        if fresh:
                            break
                        # Infeasibility may not lag behind complementarity (Wright 1997,
                        # ch. 6): once mu is far below what A q - b justifies, the iterates
                        # stick to a wrong face.
                        shortest = alpha_p if alpha_p < alpha_d else alpha_d
                        if (
                            phi1 <= (1.0 - 1e-4 * shortest) * phi_ref
                            and mu_try / nb >= _BALANCE * balance * res_try
                        ):
                            accepted = True
                            break
                        alpha_p *= 0.5
                        alpha_d *= 0.5
                    if not fresh:
                        # A run of tiny steps means rounding now dominates the direction.
                        if alpha_p < _TINY_STEP:
                            tiny_steps += 1
                            stop = tiny_steps >= _STALL_STEPS
                        else:
                            tiny_steps = 0
                    if not stop:
                        if not fresh:
                            for r in range(m):
                                lam[r] += alpha_p * dlam[r]
                            for j in range(nb):
                                t[j] += alpha_p * dt[j]
                                s[j] += alpha_d * ds[j]
                            it += 1
                        if not accepted:
                            fresh = True  # evaluate where the last, tiny step went
                            continue
                        # The accepted trial is where we now stand.
                        pi, pi_try = pi_try, pi
                        lse, lse_try = lse_try, lse
                        q, q_try = q_try, q
                        r1, r1_try = r1_try, r1
                        if fresh and it == 0:
                            for j in range(nb):
                                t[j] = -lse[j]  # every lse <= -1: the slacks start >= 1
                        fresh = False
                # ---- At the point: r1 = A q - b (from the trial), r2 = lse + t, mu.
                mu = 0.0
                res1 = 0.0
                for j in range(nb):
                    r2[j] = lse[j] + t[j]
                    mu += s[j] * t[j]
                mu /= nb
                for r in range(m):
                    res1 = abs(r1[r]) if abs(r1[r]) > res1 else res1
                # Certify only when the duality measure says we are close: fitting costs
                # sweeps.
                if stop or mu * nb <= _TRY_CERTIFY * tol or it == max_iter:
                    # Upper bound: f of q fitted to every P(x_i, y) by iterative proportional
                    # fitting, trusted only when the worst residual |Q(x_i, y) - P(x_i, y)|
                    # is within _FIT_TOL (the last source is fitted last, exactly up to
                    # rounding, so the sweeps watch the others).
                    for c in range(n):
                        qf[c] = q[c]
                    worst = np.inf
                    previous = np.inf
                    sweeps = 0
                    final = False
                    while True:
                        if not final:
                            previous = worst
                            sweeps += 1
                            for i in range(k):
                                for j in range(n_full):
                                    marg[j] = 0.0
                                for c in range(n):
                                    marg[cell_full[c * k + i]] += qf[c]
                                for c in range(n):
                                    j = cell_full[c * k + i]
                                    if marg[j] > 0.0:
                                        qf[c] *= p_full[j] / marg[j]
                        # The residual of sources 0..k-2 after each sweep; at the end, of
                        # the last source too (and of any P(x_i, y) > 0 left with no mass).
                        part = 0.0
                        for i in range(k - 1 if final else 0, k if final else k - 1):
                            for j in range(n_full):
                                marg[j] = 0.0
                            for c in range(n):
                                marg[cell_full[c * k + i]] += qf[c]
                            for c in range(n):
                                j = cell_full[c * k + i]
                                d = abs(marg[j] - p_full[j])
                                part = d if d > part else part
                        if final:
                            worst = part if part > worst else worst
                            break
                        worst = part
                        # At rounding, or rounding stops the sweeps from gaining.
                        final = worst <= 1e-16 or worst >= previous or sweeps == _FIT_SWEEPS
                    fitted = worst <= _FIT_TOL
                    if fitted:
                        f_val = 0.0  # sum_{x,y} q log(q / q(x)), 0 log 0 = 0
                        for j in range(nb):
                            mass = 0.0
                            for c in range(block_start[j], block_start[j + 1]):
                                mass += qf[c]
                            if mass <= 0.0:
                                continue
                            for c in range(block_start[j], block_start[j + 1]):
                                if qf[c] > 0.0:
                                    f_val += qf[c] * math.log(qf[c] / mass)
                        if f_val < best[0]:
                            best[0] = f_val
                            for c in range(n):
                                best_q[c] = qf[c]
                    # Lower bounds from two sets of multipliers: the iterate's, then (when
                    # the fit passed and the gap is still open) those that reproduce the
                    # fitted Q: weighted least squares of A^T lam ~ log Q(y|x) with weights
                    # Q, i.e. A diag(Q) A^T lam = A (Q log Q(y|x)). The residual is then
                    # Q-orthogonal to the constants, so b.lam = f(Q) up to the fit's
                    # rounding: where rounding stalls the Newton multipliers (entries
                    # spanning many orders of magnitude), the fitted Q still carries them.
                    for attempt in range(2):
                        mult = lam
                        if attempt == 1:
                            if not fitted or best[0] - best[1] <= tol:
                                break
                            for j in range(nb):
                                mass = 0.0
                                for c in range(block_start[j], block_start[j + 1]):
                                    mass += qf[c]
                                for c in range(block_start[j], block_start[j + 1]):
                                    v = qf[c]
                                    v_cells[c] = v * math.log(v / mass) if v > 0.0 else 0.0
                                w[j] = 0.0
                            _factor(
                                qf, w, cell_rows, k, block_start, nb, m, s_mat, low, rows, vals
                            )
                            for r in range(m):
                                dlam[r] = 0.0
                            for c in range(n):
                                for i in range(k):
                                    r = cell_rows[c * k + i]
                                    if r >= 0:
                                        dlam[r] += v_cells[c]
                            _chol_solve(low, m, dlam)
                            mult = dlam
                        # The certificate: any multipliers give a lower bound after a
                        # feasible shift. The dual (over every row (i, x_i, y), the dropped
                        # ones at lam = 0) is max sum P lam s.t. logsumexp_y (A^T lam)_{x,y}
                        # <= 0 for every x. Lowering every lam_i(x_i, .) by u(x_i) lowers
                        # the lse of each block x by sum_i u(x_i) and the objective by
                        # sum_i sum_{x_i} P(x_i) u(x_i). Feasibility comes through the
                        # source where it costs least; then each source in turn takes back
                        # the slack of its symbols (u <= 0), which only raises the bound.
                        value = 0.0
                        for j in range(n_full):
                            r = row_id[j]
                            if r >= 0:
                                value += p_full[j] * mult[r]
                        for j in range(nb):
                            lo = block_start[j]
                            hi = block_start[j + 1]
                            for c in range(lo, hi):
                                acc = 0.0
                                for i in range(k):
                                    r = cell_rows[c * k + i]
                                    if r >= 0:
                                        acc += mult[r]
                                c_val[c] = acc
                            mx = -np.inf
                            for c in range(lo, hi):
                                mx = c_val[c] if c_val[c] > mx else mx
                            acc = 0.0
                            for c in range(lo, hi):
                                acc += math.exp(c_val[c] - mx)
                            lse_try[j] = mx + math.log(acc)
                        # Passes: the k costs of making the blocks feasible through each
                        # source (only the positive shifts cost), the cheapest source
                        # applied, then two rounds of every source applied.
                        cheapest = 0
                        least = np.inf
                        for step in range(3 * k + 1):
                            i = step if step < k else cheapest
                            if step > k:
                                i = (step - k - 1) % k
                            for key in range(n_src):
                                u[key] = -np.inf
                            for j in range(nb):
                                key = cell_full[block_start[j] * k + i] // n_y
                                u[key] = lse_try[j] if lse_try[j] > u[key] else u[key]
                            cost = 0.0
                            for key in range(n_src):
                                if u[key] > (0.0 if step < k else -np.inf):
                                    cost += p_src[key] * u[key]
                            if step < k:
                                if cost < least:
                                    least = cost
                                    cheapest = i
                                continue
                            value -= cost
                            for j in range(nb):
                                lse_try[j] -= u[cell_full[block_start[j] * k + i] // n_y]
                        if math.isfinite(value) and value > best[1]:
                            best[1] = value
                    if best[0] - best[1] <= tol:
                        status = 0
                        break
                    if stop:
                        status = 2
                        break
                if it == max_iter:
                    break
                # ---- The Newton direction (Mehrotra predictor-corrector).
                if it == 0:
                    # Capped: a start that is already feasible (res1 = 0) must not forbid
                    # rounding.
                    balance = mu / (res1 if res1 > mu else mu)
                for j in range(nb):
                    w[j] = (1.0 - t[j]) / (s[j] * t[j])
                _factor(q, w, cell_rows, k, block_start, nb, m, s_mat, low, rows, vals)
                sigma_mu = 0.0
                alpha_max_p = 1.0
                alpha_max_d = 1.0
                for j in range(nb):
                    corr[j] = 0.0
                for phase in range(2):
                    if phase == 1:
                        mu_aff = 0.0
                        for j in range(nb):
                            mu_aff += (s[j] + alpha_max_d * ds[j]) * (t[j] + alpha_max_p * dt[j])
                        mu_aff /= nb
                        sigma = (mu_aff / mu) ** 3
                        sigma_mu = (sigma if sigma < 1.0 else 1.0) * mu
                        floor = _BALANCE * balance * res1
                        sigma_mu = sigma_mu if sigma_mu > floor else floor
                        for j in range(nb):
                            corr[j] = ds[j] * dt[j]
                    for r in range(m):
                        rhs[r] = 0.0
                    for j in range(nb):
                        r3 = s[j] * t[j] + corr[j] - sigma_mu
                        beta = (-r3 + s[j] * r2[j]) / t[j]
                        for c in range(block_start[j], block_start[j + 1]):
                            for i in range(k):
                                r = cell_rows[c * k + i]
                                if r >= 0:
                                    rhs[r] += beta * pi[c]
                    for r in range(m):
                        dlam[r] = -r1[r] - rhs[r]
                    _chol_solve(low, m, dlam)
                    alpha_max_p = 1.0
                    alpha_max_d = 1.0
                    for j in range(nb):
                        adot = 0.0
                        for c in range(block_start[j], block_start[j + 1]):
                            acc = 0.0
                            for i in range(k):
                                r = cell_rows[c * k + i]
                                if r >= 0:
                                    acc += dlam[r]
                            adot += pi[c] * acc
                        dt[j] = -r2[j] - adot
                        r3 = s[j] * t[j] + corr[j] - sigma_mu
                        ds[j] = (-r3 - s[j] * dt[j]) / t[j]
                        if dt[j] < 0.0 and -t[j] / dt[j] < alpha_max_p:
                            alpha_max_p = -t[j] / dt[j]
                        if ds[j] < 0.0 and -s[j] / ds[j] < alpha_max_d:
                            alpha_max_d = -s[j] / ds[j]
                finite = True
                for r in range(m):
                    finite &= math.isfinite(dlam[r])
                for j in range(nb):
                    finite &= math.isfinite(ds[j]) and math.isfinite(dt[j])
                if not finite:
                    stop = True
                    continue
                phi0 = 0.0  # the merit where we stand, from the residuals already at hand
                for r in range(m):
                    phi0 += r1[r] * r1[r]
                for j in range(nb):
                    r3 = s[j] * t[j] - sigma_mu
                    phi0 += r2[j] * r2[j] + r3 * r3
                if it == 0:
                    # Let the first steps leave the (arbitrary) start boldly: the merit may
                    # rise up to 10x while the first value stays in the window.
                    for h in range(1, _MEMORY):
                        hist[h] = 10.0 * phi0
                hist[it % _MEMORY] = phi0
                phi_ref = -np.inf
                for h in range(_MEMORY):
                    phi_ref = hist[h] if hist[h] > phi_ref else phi_ref
            iterations += it
            if status == 0:
                break
        for c in range(n_max):
            q_out[tab, c] = 0.0
        for c in range(n):
            q_out[tab, cell_flat[c]] = best_q[c]
        f_out[tab] = best[0]
        # A lower bound above the upper one is rounding (both are valid bounds).
        lower_out[tab] = best[1] if best[1] < best[0] else best[0]
        it_out[tab] = iterations
        status_out[tab] = status


# A single table runs the kernel interpreted until compiling it pays (synergy._tier): its
# compile costs about 13 s of CPU with an empty numba cache, one interpreted solve 1-25 ms.
_SOLVE_TABLES = Tiered(_solve_tables, {"_factor": _factor, "_chol_solve": _chol_solve})
