"""The union-information programme's structure and its dedicated primal-dual Newton solver.

Private to :mod:`synergy.pid.vk`: index plumbing shared with the cvxpy reference, numba kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

__all__ = [
    "FEASIBLE_TOL",
    "Structure",
    "build_structure",
    "certify",
    "feasible_point",
    "fit_marginals",
    "objective",
    "reaches_blas",
    "solve_dual",
]

# Kernels called only from other kernels: numba builds no Python or C entry point for them,
# which trims the first call's compile time (benchmarks/bench_cold.py).
_INNER: dict[str, Any] = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}


@dataclass(frozen=True)
class Structure:
    """The support-reduced programme: min sum q log(q / q(x)) s.t. A q = b, q >= 0.

    Cells are the (x, y) whose every source marginal P(x_i, y) is positive (all others are
    forced to 0 by the constraints); they are sorted by joint x, then y, so that each x owns
    a contiguous block ``block_start[j]:block_start[j + 1]``. Constraint rows are the
    (i, x_i, y) with P(x_i, y) > 0, minus one row per (i >= 1, y): those k - 1 rows per y
    are implied by the others (each source's marginal sums to p(y)), and dropping them
    makes A of full row rank. Source 0 rows come first, grouped by x_0 (an unused x_0
    owns an empty group).
    """

    shape: tuple[int, ...]  # merged table shape (n_1, ..., n_k, n_y)
    cell_flat: np.ndarray  # (N,) flat index of each cell in the merged table
    cell_rows: np.ndarray  # (N, k) row of each cell per source, -1 where dropped
    block_start: np.ndarray  # (n_blocks + 1,)
    b: np.ndarray  # (m,) P(x_i, y) of each kept row
    row0_start: np.ndarray  # (n_1 + 1,) rows of source 0, grouped by x_0
    q0: np.ndarray  # (N,) feasible start P(x_0, y) prod_{i>=1} P(x_i | y)
    cell_full: np.ndarray  # (N, k) index of each cell's (i, x_i, y) into p_full, all rows
    p_full: np.ndarray  # every source's P(x_i, y), concatenated

    @property
    def n_cells(self) -> int:
        return int(self.cell_flat.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.b.shape[0])


def build_structure(t: np.ndarray) -> Structure:
    """Index the programme of the merged table ``t`` of shape (n_1, ..., n_k, n_y)."""
    shape = tuple(int(s) for s in t.shape)
    dims = np.array(shape[:-1], dtype=np.int64)
    flat = np.ascontiguousarray(t, dtype=np.float64).reshape(-1, shape[-1])
    return Structure(shape, *_index_table(flat, dims))


@numba.njit(cache=True)
def _index_table(
    t2: np.ndarray, dims: np.ndarray
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """The index arrays of :class:`Structure` for the table ``t2`` of shape (prod dims, n_y)."""
    k = dims.shape[0]
    nx, ny = t2.shape
    stride = np.empty(k, dtype=np.int64)
    acc = 1
    for i in range(k - 1, -1, -1):
        stride[i] = acc
        acc *= dims[i]
    offset = np.zeros(k + 1, dtype=np.int64)  # source i's P(x_i, y) at offset[i] + x_i * ny + y
    for i in range(k):
        offset[i + 1] = offset[i] + dims[i] * ny
    p_full = np.zeros(offset[k])
    py = np.zeros(ny)
    for x in range(nx):
        for y in range(ny):
            v = t2[x, y]
            py[y] += v
            for i in range(k):
                p_full[offset[i] + ((x // stride[i]) % dims[i]) * ny + y] += v
    # Rows: source 0 in C order (grouped by x_0); the others without their first supported
    # x_i of every y, which the other rows imply.
    row_id = np.full(offset[k], -1, dtype=np.int64)
    row0_start = np.zeros(dims[0] + 1, dtype=np.int64)
    m = 0
    for x0 in range(dims[0]):
        for y in range(ny):
            if p_full[x0 * ny + y] > 0.0:
                row_id[x0 * ny + y] = m
                m += 1
        row0_start[x0 + 1] = m
    for i in range(1, k):
        first = np.full(ny, -1, dtype=np.int64)
        for y in range(ny):
            for xi in range(dims[i]):
                if p_full[offset[i] + xi * ny + y] > 0.0:
                    first[y] = xi
                    break
        for xi in range(dims[i]):
            for y in range(ny):
                j = offset[i] + xi * ny + y
                if p_full[j] > 0.0 and xi != first[y]:
                    row_id[j] = m
                    m += 1
    b = np.empty(m)
    for j in range(offset[k]):
        if row_id[j] >= 0:
            b[row_id[j]] = p_full[j]
    # Cells: every (x, y) whose source marginals are all positive, in C order (filled into
    # arrays of the table's size, then cut to the count).
    cell_flat = np.empty(nx * ny, dtype=np.int64)
    cell_rows = np.empty((nx * ny, k), dtype=np.int64)
    cell_full = np.empty((nx * ny, k), dtype=np.int64)
    q0 = np.empty(nx * ny)
    block_start = np.empty(nx + 1, dtype=np.int64)
    n_blocks = 0
    c = 0
    for x in range(nx):
        start = c
        for y in range(ny):
            # q0 = P(x_0, y) prod_{i >= 1} P(x_i | y): every factor of the product is at
            # most 1, so it cannot overflow, and p(y)^(k - 1) (which underflows to 0 for
            # p(y) below about 1e-154) is never formed.
            prod = 1.0
            supported = True
            for i in range(k):
                j = offset[i] + ((x // stride[i]) % dims[i]) * ny + y
                cell_full[c, i] = j
                cell_rows[c, i] = row_id[j]
                if p_full[j] > 0.0:  # then p(y) >= P(x_i, y) > 0 too
                    prod *= p_full[j] if i == 0 else p_full[j] / py[y]
                else:
                    supported = False
            if not supported:
                continue  # some P(x_i, y) = 0: the constraints force this cell to 0
            cell_flat[c] = x * ny + y
            q0[c] = prod
            c += 1
        if c > start:
            block_start[n_blocks] = start
            n_blocks += 1
    block_start[n_blocks] = c
    return (
        cell_flat[:c].copy(),
        cell_rows[:c].copy(),
        block_start[: n_blocks + 1].copy(),
        b,
        row0_start,
        q0[:c].copy(),
        cell_full[:c].copy(),
        p_full,
    )


def reaches_blas(s: Structure) -> bool:
    """Whether a Newton solve of ``s`` can call BLAS or LAPACK with more than tiny operands.

    Mirrors the thresholds of the kernels below: W products from ``_BLAS_MIN`` entries, the
    Cholesky factor of the other sources' rows (LAPACK, or BLAS panel updates past one
    panel of ``_CHOLESKY_BLOCK``).
    """
    m1 = int(s.row0_start[-1])
    m2 = s.n_rows - m1
    group = int(np.max(np.diff(s.row0_start))) if s.row0_start.shape[0] > 1 else 0
    return m1 * m2 >= _BLAS_MIN or m2 * group >= _BLAS_MIN or m2 > _CHOLESKY_BLOCK


@numba.njit(cache=True)
def objective(q: np.ndarray, block_start: np.ndarray) -> float:
    """f(q) = sum_{x,y} q log(q / q(x)) in nats, with 0 log 0 = 0."""
    total = 0.0
    for j in range(block_start.shape[0] - 1):
        s = 0.0
        for c in range(block_start[j], block_start[j + 1]):
            s += q[c]
        if s <= 0.0:
            continue
        for c in range(block_start[j], block_start[j + 1]):
            if q[c] > 0.0:
                total += q[c] * math.log(q[c] / s)
    return total


@numba.njit(cache=True, **_INNER)
def _apply_at(lam: np.ndarray, cell_rows: np.ndarray, out: np.ndarray) -> None:
    """out = A^T lam: c_{x,y} = sum_i lam_i(x_i, y) over the kept rows."""
    n, k = cell_rows.shape
    for c in range(n):
        acc = 0.0
        for i in range(k):
            r = cell_rows[c, i]
            if r >= 0:
                acc += lam[r]
        out[c] = acc


@numba.njit(cache=True, **_INNER)
def _row_groups(row0_start: np.ndarray) -> np.ndarray:
    """The x_0 group of every source-0 row (rows of group g: row0_start[g]:row0_start[g + 1])."""
    group_of = np.empty(row0_start[row0_start.shape[0] - 1], dtype=np.int64)
    for g in range(row0_start.shape[0] - 1):
        group_of[row0_start[g] : row0_start[g + 1]] = g
    return group_of


@numba.njit(cache=True)
def certify(
    lam: np.ndarray,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
) -> float:
    """A lower bound on min f from any multipliers ``lam``: b.lam after making lam feasible.

    The dual of min f s.t. A q = b, q >= 0 is max b.lam s.t. logsumexp_y (A^T lam)_{x,y} <= 0
    for every x (f is positively 1-homogeneous, so its conjugate is the indicator of that
    set). Lowering every lam_0(x_0, .) by the worst excess over the blocks with that x_0
    restores feasibility and lowers b.lam by exactly that shift times P(x_0).
    """
    n = cell_rows.shape[0]
    n_blocks = block_start.shape[0] - 1
    c_val = np.empty(n)
    pi = np.empty(n)
    excess = np.empty(n_blocks)
    _apply_at(lam, cell_rows, c_val)
    _softmax_blocks(c_val, block_start, pi, excess)
    n0 = row0_start.shape[0] - 1
    group_of = _row_groups(row0_start)
    shift = np.zeros(n0)
    for j in range(n_blocks):
        g = group_of[cell_rows[block_start[j], 0]]  # the block's x_0
        if excess[j] > shift[g]:
            shift[g] = excess[j]
    value = 0.0
    for r in range(b.shape[0]):
        value += b[r] * lam[r]
    for g in range(n0):
        if shift[g] > 0.0:
            mass = 0.0
            for r in range(row0_start[g], row0_start[g + 1]):
                mass += b[r]
            value -= shift[g] * mass
    return value


_PIVOT_FLOOR = 1e-20  # pivot / original diagonal below which the pivot is rounding noise
_PIVOT_HUGE = 1e128
_BLAS_MIN = 4096  # entries of W from which matrix-vector products go to BLAS
_CHOLESKY_BLOCK = 48  # columns per panel of _safe_cholesky (trailing updates go to BLAS)
_BALANCE = 0.01  # keep mu >= _BALANCE * (mu_0 / |r_0|) * |A q - b|
_TINY_STEP = 1e-2
_STALL_STEPS = 8  # consecutive tiny steps before giving up as stalled
_TRY_CERTIFY = 1e3  # fit and certify once mu * n_blocks is within this factor of tol
_MEMORY = 4  # non-monotone line search: compare with the worst of the last few merits
_IPF_SWEEPS = 200  # most sweeps of proportional fitting before the exact repair
_SWEEPS_PAY = 10  # IPF sweeps before a sweep must halve the residual to go on
# "Meets the marginals to rounding": max |Q(x_i, y) - P(x_i, y)| at most 64 ulps of the
# total mass 1. The repair of feasible_point reaches a few ulps; a point further off gives
# no upper bound and is not used.
FEASIBLE_TOL = 64.0 * np.finfo(np.float64).eps


@numba.njit(cache=True, **_INNER)
def _safe_cholesky(s_mat: np.ndarray) -> np.ndarray:
    """Blocked lower Cholesky factor that survives the ill-conditioning of interior points.

    Near the optimum S = A K^{-1} A^T has entries of wildly different scales (like the
    normal equations of an LP interior-point method): a pivot that cancels to rounding
    noise is replaced by a huge number, which zeroes that component of the step
    (S. J. Wright, "Modified Cholesky factorizations in interior-point algorithms for
    linear programming", SIAM J. Optim. 9 (1999) 1159-1191). Trailing updates go to BLAS.
    """
    m = s_mat.shape[0]
    a = s_mat.copy()
    diag0 = np.empty(m)
    for i in range(m):
        diag0[i] = a[i, i]
    nb = _CHOLESKY_BLOCK
    for j0 in range(0, m, nb):
        j1 = min(j0 + nb, m)
        # Unblocked factorisation of the diagonal block and its panel below.
        for j in range(j0, j1):
            d = a[j, j]
            for t in range(j0, j):
                d -= a[j, t] * a[j, t]
            if d <= _PIVOT_FLOOR * diag0[j]:
                a[j, j] = _PIVOT_HUGE
                for i in range(j + 1, m):
                    a[i, j] = 0.0
                continue
            d = math.sqrt(d)
            a[j, j] = d
            for i in range(j + 1, m):
                acc = a[i, j]
                for t in range(j0, j):
                    acc -= a[i, t] * a[j, t]
                a[i, j] = acc / d
        if j1 < m:
            panel = np.ascontiguousarray(a[j1:, j0:j1])
            upd = panel @ panel.T
            for i in range(j1, m):
                for t in range(j1, i + 1):
                    a[i, t] -= upd[i - j1, t - j1]
    for i in range(m):
        for t in range(i + 1, m):
            a[i, t] = 0.0
    return a


@numba.njit(cache=True, **_INNER)
def _fast_cholesky(s_mat: np.ndarray) -> np.ndarray:
    """LAPACK's Cholesky when every pivot is sound, else :func:`_safe_cholesky`."""
    m = s_mat.shape[0]
    try:
        chol = np.linalg.cholesky(s_mat)
    except Exception:
        return _safe_cholesky(s_mat)
    for i in range(m):
        if chol[i, i] * chol[i, i] <= _PIVOT_FLOOR * s_mat[i, i] or not np.isfinite(chol[i, i]):
            return _safe_cholesky(s_mat)
    return chol


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, inline="always")
def _lower_solve(low: np.ndarray, x: np.ndarray) -> None:
    """x <- L^{-1} x in place, L the lower triangle of ``low[:len(x), :len(x)]``."""
    for i in range(x.shape[0]):
        acc = x[i]
        for t in range(i):
            acc -= low[i, t] * x[t]
        x[i] = acc / low[i, i]


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, inline="always")
def _lower_t_solve(low: np.ndarray, x: np.ndarray) -> None:
    """x <- L^{-T} x in place, reading L by rows (contiguous)."""
    for i in range(x.shape[0] - 1, -1, -1):
        x[i] /= low[i, i]
        xi = x[i]
        for t in range(i):
            x[t] -= low[i, t] * xi


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, **_INNER)
def _factor_blocked(
    s00: np.ndarray, w_t: np.ndarray, s11: np.ndarray, row0_start: np.ndarray
) -> np.ndarray:
    """Cholesky factor of S = [[S00, S01], [S10, S11]] with source 0's rows eliminated first.

    S00 couples only rows with the same x_0 (each joint x has one x_0), so it factors in
    small blocks L_g, stored in place in ``s00`` (row r, column r - start of its group).
    ``w_t`` holds S10 on entry and W^T = (L0^{-1} S01)^T on exit, row by row (contiguous);
    what remains is the dense Schur complement S11 - W^T W over the other sources' rows,
    formed by BLAS products in column panels and factored by LAPACK. Returns its factor.
    Same factor as a dense Cholesky in this row order, without ever storing the m x m S.
    """
    m2 = w_t.shape[0]
    for g in range(row0_start.shape[0] - 1):
        r0 = row0_start[g]
        r1 = row0_start[g + 1]
        size = r1 - r0
        if size == 0:
            continue
        lg = _safe_cholesky(np.ascontiguousarray(s00[r0:r1, :size]))
        s00[r0:r1, :size] = lg
        if m2 == 0:
            continue
        if m2 * size < _BLAS_MIN:
            # Small: forward substitution L_g z = S01 column, for every source-1 row.
            for j in range(m2):
                _lower_solve(lg, w_t[j, r0:r1])
            continue
        # W^T's columns of this group: S10 L_g^{-T}, one BLAS product with the (small)
        # explicit inverse instead of a substitution per source-1 row.
        inv_t = np.eye(size)  # row col becomes L_g^{-1} e_col: inv_t = L_g^{-T}
        for col in range(size):
            _lower_solve(lg, inv_t[col])
        w_t[:, r0:r1] = np.ascontiguousarray(w_t[:, r0:r1]) @ inv_t
    if m2 == 0:
        return np.zeros((0, 0))
    m1 = w_t.shape[1]
    if m1 * m2 < _BLAS_MIN:
        for i in range(m2):
            wi = w_t[i]
            for j in range(i + 1):
                wj = w_t[j]
                acc = 0.0
                for r in range(m1):
                    acc += wi[r] * wj[r]
                s11[i, j] -= acc
    else:
        panel = 128
        for j0 in range(0, m2, panel):
            j1 = min(j0 + panel, m2)
            prod = w_t[j0:] @ np.ascontiguousarray(w_t[j0:j1]).T
            for i in range(j0, m2):
                for j in range(j0, min(j1, i + 1)):
                    s11[i, j] -= prod[i - j0, j - j0]
    # Only the lower triangle is read from here on (LAPACK's potrf with 'L' and the safe
    # fallback alike), so the upper one is left as it is.
    return _fast_cholesky(s11)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, **_INNER)
def _solve_blocked(
    l00: np.ndarray, w_t: np.ndarray, l11: np.ndarray, row0_start: np.ndarray, rhs: np.ndarray
) -> np.ndarray:
    """Solve S x = rhs with the factor of :func:`_factor_blocked`: L = [[L0, 0], [W^T, L11]].

    `reassoc` lets the dot products of the substitutions use vector accumulators; the two
    products with W go to BLAS.
    """
    m2, m1 = w_t.shape
    x = rhs.copy()
    n_groups = row0_start.shape[0] - 1
    for g in range(n_groups):  # L0 z1 = rhs1
        r0 = row0_start[g]
        r1 = row0_start[g + 1]
        _lower_solve(l00[r0:r1], x[r0:r1])
    if m2 > 0:
        # L11 z2 = rhs2 - W^T z1 (BLAS only where the call costs less than the loop).
        if m1 * m2 >= _BLAS_MIN:
            z2 = x[m1:] - w_t @ np.ascontiguousarray(x[:m1])
        else:
            z2 = x[m1:].copy()
            for j in range(m2):
                acc = 0.0
                for r in range(m1):
                    acc += w_t[j, r] * x[r]
                z2[j] -= acc
        _lower_solve(l11, z2)
        _lower_t_solve(l11, z2)  # L11^T x2 = z2
        x[m1:] = z2
        if m1 * m2 >= _BLAS_MIN:  # z1 - W x2
            x[:m1] -= z2 @ w_t
        else:
            for j in range(m2):
                for r in range(m1):
                    x[r] -= w_t[j, r] * z2[j]
    for g in range(n_groups):  # L0^T x1 = z1 - W x2
        r0 = row0_start[g]
        r1 = row0_start[g + 1]
        _lower_t_solve(l00[r0:r1], x[r0:r1])
    return x


@numba.njit(cache=True, **_INNER)
def _apply_a(v: np.ndarray, cell_rows: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros(m)
    n, k = cell_rows.shape
    for c in range(n):
        for i in range(k):
            r = cell_rows[c, i]
            if r >= 0:
                out[r] += v[c]
    return out


@numba.njit(cache=True, **_INNER)
def _max_step(v: np.ndarray, dv: np.ndarray) -> float:
    alpha = 1.0
    for c in range(v.shape[0]):
        if dv[c] < 0.0:
            a = -v[c] / dv[c]
            if a < alpha:
                alpha = a
    return alpha


@numba.njit(cache=True, **_INNER)
def _schur_dual(
    q: np.ndarray,
    w: np.ndarray,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    group_of: np.ndarray,
    row0_start: np.ndarray,
    s00: np.ndarray,
    w_t: np.ndarray,
    s11: np.ndarray,
) -> None:
    """Lower triangle of S = A (diag(q) + sum_x w_x q_x q_x^T) A^T, into its three blocks.

    S00 keeps only its diagonal groups (rows of one x_0; row r in column r - group start),
    S10 goes to ``w_t`` and S11 to ``s11``. Within a block every source's rows are distinct
    (one per y), so the rank-one term is the outer product of the block's (row, q) list
    with itself; the list is split into source 0's rows and the others' so that each
    product lands in one block without a branch per entry.
    """
    s00[:] = 0.0
    w_t[:] = 0.0
    s11[:] = 0.0
    m1 = w_t.shape[1]
    n, k = cell_rows.shape
    rows0 = np.empty(n, dtype=np.int64)
    vals0 = np.empty(n)
    rows1 = np.empty(n * k, dtype=np.int64)
    vals1 = np.empty(n * k)
    for j in range(block_start.shape[0] - 1):
        lo = block_start[j]
        hi = block_start[j + 1]
        n0 = 0
        n1 = 0
        for c in range(lo, hi):
            qc = q[c]
            r0 = cell_rows[c, 0]
            rows0[n0] = r0
            vals0[n0] = qc
            n0 += 1
            s00[r0, r0 - row0_start[group_of[r0]]] += qc
            for i in range(1, k):
                ri = cell_rows[c, i]
                if ri < 0:
                    continue
                rows1[n1] = ri - m1
                vals1[n1] = qc
                n1 += 1
                w_t[ri - m1, r0] += qc
                for i2 in range(1, k):
                    r2 = cell_rows[c, i2]
                    if 0 <= r2 <= ri:
                        s11[ri - m1, r2 - m1] += qc
        wj = w[j]
        if n0 == 0:
            continue
        base = row0_start[group_of[rows0[0]]]  # one x_0 per block
        for a in range(n0):
            ra = rows0[a]
            va = wj * vals0[a]
            for b2 in range(n0):
                rb = rows0[b2]
                if rb <= ra:
                    s00[ra, rb - base] += va * vals0[b2]
        for a in range(n1):
            ra = rows1[a]
            va = wj * vals1[a]
            wrow = w_t[ra]
            for b2 in range(n0):
                wrow[rows0[b2]] += va * vals0[b2]
            srow = s11[ra]
            for b2 in range(n1):
                rb = rows1[b2]
                if rb <= ra:
                    srow[rb] += va * vals1[b2]


@numba.njit(cache=True, **_INNER)
def _softmax_blocks(
    c_val: np.ndarray, block_start: np.ndarray, pi: np.ndarray, lse: np.ndarray
) -> None:
    for j in range(block_start.shape[0] - 1):
        lo = block_start[j]
        hi = block_start[j + 1]
        mx = -np.inf
        for c in range(lo, hi):
            if c_val[c] > mx:
                mx = c_val[c]
        acc = 0.0
        for c in range(lo, hi):
            pi[c] = math.exp(c_val[c] - mx)
            acc += pi[c]
        for c in range(lo, hi):
            pi[c] /= acc
        lse[j] = mx + math.log(acc)


@numba.njit(cache=True)
def _marginal_residual(q: np.ndarray, cell_full: np.ndarray, p_full: np.ndarray) -> float:
    """max |Q(x_i, y) - P(x_i, y)| over every source's every (x_i, y)."""
    n, k = cell_full.shape
    marg = np.zeros(p_full.shape[0])
    for c in range(n):
        for i in range(k):
            marg[cell_full[c, i]] += q[c]
    worst = 0.0
    for j in range(p_full.shape[0]):
        worst = max(worst, abs(marg[j] - p_full[j]))
    return worst


@numba.njit(cache=True)
def fit_marginals(
    q: np.ndarray, cell_full: np.ndarray, p_full: np.ndarray, max_sweeps: int
) -> tuple[np.ndarray, float]:
    """Iterative proportional fitting of q towards every P(x_i, y).

    Scaling keeps q >= 0 and its zeros; near the optimum q already meets the marginals to
    ~1e-12, so a few sweeps reach rounding. Where the table is nearly deterministic the
    sweeps contract slowly (a residual of 1e-6 may survive hundreds of them), so they stop
    once they stop paying; :func:`feasible_point` finishes the job exactly. Returns the
    fitted q and its worst residual.
    """
    n, k = cell_full.shape
    out = q.copy()
    marg = np.zeros(p_full.shape[0])
    worst = np.inf
    floor = 4.0 * np.finfo(np.float64).eps * np.max(p_full)
    for sweep in range(max_sweeps):
        previous = worst
        worst = 0.0
        for i in range(k):
            marg[:] = 0.0
            for c in range(n):
                marg[cell_full[c, i]] += out[c]
            for c in range(n):
                j = cell_full[c, i]
                if marg[j] > 0.0:
                    out[c] *= p_full[j] / marg[j]
        # Residual of every source after the sweep (the last one fitted is exact).
        for i in range(k):
            marg[:] = 0.0
            for c in range(n):
                marg[cell_full[c, i]] += out[c]
            for c in range(n):
                j = cell_full[c, i]
                r = abs(marg[j] - p_full[j])
                if r > worst:
                    worst = r
        if worst <= floor or (sweep >= _SWEEPS_PAY and worst > 0.5 * previous):
            break
    return out, worst


@numba.njit(cache=True)
def feasible_point(
    q: np.ndarray, cell_full: np.ndarray, p_full: np.ndarray, n_y: int, max_sweeps: int
) -> tuple[np.ndarray, float]:
    """A Q >= 0 on the cells that meets every P(x_i, y) to rounding, near ``q``.

    Only such a Q makes f(Q) an upper bound on min f. Iterative proportional fitting first
    (:func:`fit_marginals`), then an exact repair of what it leaves: each cell is scaled
    down until no marginal is exceeded, which leaves remainders R_i(x_i, y) >= 0 whose sums
    over x_i are the same p(y) - Q(y) for every source; the product table
    R_0(x_0, y) prod_{i >= 1} R_i(x_i, y) / r_i(y) meets them exactly and is positive only
    where every P(x_i, y) is, so the sum is feasible. Non-finite entries of ``q`` count as 0.
    Returns the point and its worst residual max |Q(x_i, y) - P(x_i, y)|.
    """
    n, k = cell_full.shape
    start = np.empty(n)
    for c in range(n):
        v = q[c]
        start[c] = v if (v > 0.0 and np.isfinite(v)) else 0.0
    out, _worst = fit_marginals(start, cell_full, p_full, max_sweeps)
    n_full = p_full.shape[0]
    marg = np.zeros(n_full)
    for c in range(n):
        for i in range(k):
            marg[cell_full[c, i]] += out[c]
    ratio = np.ones(n_full)
    for j in range(n_full):
        if marg[j] > p_full[j]:
            ratio[j] = p_full[j] / marg[j]
    for c in range(n):
        scale = 1.0
        for i in range(k):
            scale = min(scale, ratio[cell_full[c, i]])
        out[c] *= scale
    marg[:] = 0.0
    for c in range(n):
        for i in range(k):
            marg[cell_full[c, i]] += out[c]
    rest = np.empty(n_full)
    for j in range(n_full):
        rest[j] = max(p_full[j] - marg[j], 0.0)
    # r_i(y) = sum_{x_i} R_i(x_i, y); entry j of p_full is (source of j, x_i, y = j % n_y).
    source_of = np.full(n_full, -1, dtype=np.int64)
    for c in range(n):
        for i in range(k):
            source_of[cell_full[c, i]] = i
    r_sum = np.zeros((k, n_y))
    for j in range(n_full):
        if source_of[j] >= 0:
            r_sum[source_of[j], j % n_y] += rest[j]
    for c in range(n):
        j0 = cell_full[c, 0]
        add = rest[j0]
        y = j0 % n_y
        for i in range(1, k):
            ri = rest[cell_full[c, i]]
            if add == 0.0 or ri == 0.0:
                add = 0.0
                break
            add *= ri / r_sum[i, y]  # r_sum[i, y] >= ri > 0
        out[c] += add
    return out, _marginal_residual(out, cell_full, p_full)


@numba.njit(cache=True, **_INNER)
def _kkt_merit(
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
    c_val: np.ndarray,
    pi: np.ndarray,
) -> tuple[float, float, float]:
    """||A q - b||^2 + ||lse + t||^2 + ||s t - target||^2 at the trial step (uses c_val, pi).

    Also returns max |A q - b| and the duality measure mu = s.t / n_blocks there.
    """
    m = b.shape[0]
    nb = block_start.shape[0] - 1
    lam_try = lam + alpha_p * dlam
    lse = np.empty(nb)
    _apply_at(lam_try, cell_rows, c_val)
    _softmax_blocks(c_val, block_start, pi, lse)
    total = 0.0
    mu = 0.0
    q = np.empty(pi.shape[0])
    for j in range(nb):
        s_try = s[j] + alpha_d * ds[j]
        t_try = t[j] + alpha_p * dt[j]
        mu += s_try * t_try
        for c in range(block_start[j], block_start[j + 1]):
            q[c] = s_try * pi[c]
        r2 = lse[j] + t_try
        r3 = s_try * t_try - target
        total += r2 * r2 + r3 * r3
    r1 = _apply_a(q, cell_rows, m)
    worst = 0.0
    for r in range(m):
        d = r1[r] - b[r]
        total += d * d
        worst = max(worst, abs(d))
    return total, worst, mu / nb


@numba.njit(cache=True)
def solve_dual(
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
    cell_full: np.ndarray,
    p_full: np.ndarray,
    tol: float,
    max_iter: int,
    q0: np.ndarray,
    start_shift: float,
    n_y: int,
) -> tuple[np.ndarray, np.ndarray, float, float, int, int]:
    """Primal-dual interior-point method on the dual: max b.lam s.t. lse_x(A^T lam) <= 0.

    Unknowns: lam (one per kept row), slacks t_x = -lse_x and block masses s_x = Q(x), the
    multipliers of the constraints (complementarity s_x t_x = mu). Q = s_x softmax(c_x)
    recovers the primal. A block that the optimum empties (Q(x) = 0, the boundary where
    primal methods stall) is here just an inactive constraint with s_x -> 0. Mehrotra
    predictor-corrector; the Newton system reduces to S = A (diag q + w q q^T) A^T.

    Returns q (meeting the marginals to rounding, see :func:`feasible_point`), lam, f(q),
    certified lower bound, iterations, status (0 converged, 1 iteration limit, 2 stalled).
    Whatever the status, f(q) is an upper bound on min f and the lower bound a lower one.
    """
    n = cell_rows.shape[0]
    m = b.shape[0]
    nb = block_start.shape[0] - 1
    lam = np.zeros(m)
    # Start strictly feasible: lowering every lam_0(x_0, y) by L lowers every lse by L.
    lmax = 0.0
    for j in range(nb):
        v = math.log(block_start[j + 1] - block_start[j])
        if v > lmax:
            lmax = v
    if start_shift <= 0.0:
        for r in range(row0_start[0], row0_start[-1]):
            lam[r] = -(lmax + 1.0)
    else:
        for g0 in range(row0_start.shape[0] - 1):
            mass = 0.0
            for r in range(row0_start[g0], row0_start[g0 + 1]):
                mass += b[r]
            for r in range(row0_start[g0], row0_start[g0 + 1]):
                lam[r] = math.log(b[r] / mass) - start_shift
    c_val = np.empty(n)
    pi = np.empty(n)
    lse = np.empty(nb)
    _apply_at(lam, cell_rows, c_val)
    _softmax_blocks(c_val, block_start, pi, lse)
    t = np.empty(nb)
    s = np.empty(nb)
    for j in range(nb):
        t[j] = -lse[j]
        if start_shift <= 0.0:
            s[j] = 1.0 / nb
        else:
            # Half the start's mass, half uniform: a block that q0 nearly empties would
            # otherwise pin the masses' step length at zero from the first iteration.
            s[j] = 0.5 / nb
            for c in range(block_start[j], block_start[j + 1]):
                s[j] += 0.5 * q0[c]
    q = np.empty(n)
    v_cells = np.empty(n)
    g = np.empty(n)
    r2 = np.empty(nb)
    w = np.empty(nb)
    dt = np.empty(nb)
    ds = np.empty(nb)
    corr = np.zeros(nb)
    hist = np.full(_MEMORY, -np.inf)
    # Newton-system workspace, reused by every iteration (S itself is never stored whole).
    m1 = row0_start[row0_start.shape[0] - 1]
    group_of = _row_groups(row0_start)
    gmax = np.max(row0_start[1:] - row0_start[:-1])
    s00 = np.empty((m1, gmax))
    w_t = np.empty((m - m1, m1))
    s11 = np.empty((m - m1, m - m1))
    balance = 0.0
    tiny_steps = 0
    best_q = q.copy()
    best_f = np.inf
    best_lower = -np.inf
    status = 1
    it = 0
    for it in range(max_iter + 1):
        _apply_at(lam, cell_rows, c_val)
        _softmax_blocks(c_val, block_start, pi, lse)
        for j in range(nb):
            for c in range(block_start[j], block_start[j + 1]):
                q[c] = s[j] * pi[c]
            r2[j] = lse[j] + t[j]
        r1 = _apply_a(q, cell_rows, m) - b
        mu = 0.0
        for j in range(nb):
            mu += s[j] * t[j]
        mu /= nb
        res1 = 0.0
        for r in range(m):
            res1 = max(res1, abs(r1[r]))
        # Certify only when the duality measure says we are close: fitting costs sweeps.
        if mu * nb <= _TRY_CERTIFY * tol or it == max_iter:
            best_q, best_f, best_lower = _keep_best(
                q,
                lam,
                best_q,
                best_f,
                best_lower,
                cell_rows,
                block_start,
                b,
                row0_start,
                cell_full,
                p_full,
                n_y,
            )
            if best_f - best_lower <= tol:
                status = 0
                break
        if it == max_iter:
            break
        if it == 0:
            # Capped: a start that is already feasible (res1 = 0) must not forbid all rounding.
            balance = mu / max(res1, mu)
        for j in range(nb):
            w[j] = (1.0 - t[j]) / (s[j] * t[j])
        _schur_dual(q, w, cell_rows, block_start, group_of, row0_start, s00, w_t, s11)
        l11 = _factor_blocked(s00, w_t, s11, row0_start)
        sigma_mu = 0.0
        alpha_p = 1.0
        alpha_d = 1.0
        dlam = np.zeros(m)
        corr[:] = 0.0
        for phase in range(2):
            if phase == 1:
                mu_aff = 0.0
                for j in range(nb):
                    mu_aff += (s[j] + alpha_d * ds[j]) * (t[j] + alpha_p * dt[j])
                mu_aff /= nb
                sigma = (mu_aff / mu) ** 3
                if sigma > 1.0:
                    sigma = 1.0
                sigma_mu = max(sigma * mu, _BALANCE * balance * res1)
                for j in range(nb):
                    corr[j] = ds[j] * dt[j]
            for j in range(nb):
                r3 = s[j] * t[j] + corr[j] - sigma_mu
                beta = (-r3 + s[j] * r2[j]) / t[j]
                for c in range(block_start[j], block_start[j + 1]):
                    v_cells[c] = beta * pi[c]
            rhs = -r1 - _apply_a(v_cells, cell_rows, m)
            dlam = _solve_blocked(s00, w_t, l11, row0_start, rhs)
            _apply_at(dlam, cell_rows, g)
            for j in range(nb):
                adot = 0.0
                for c in range(block_start[j], block_start[j + 1]):
                    adot += pi[c] * g[c]
                dt[j] = -r2[j] - adot
                r3 = s[j] * t[j] + corr[j] - sigma_mu
                ds[j] = (-r3 - s[j] * dt[j]) / t[j]
            alpha_p = _max_step(t, dt)
            alpha_d = _max_step(s, ds)
        eta = 0.99
        alpha_p = min(1.0, eta * alpha_p)
        alpha_d = min(1.0, eta * alpha_d)
        # Globalise on the KKT residual: softmax is nonlinear, so a full step that the
        # linear model calls feasible can leave A q far from b (then mu must not race ahead).
        phi0, _r0, _m0 = _kkt_merit(
            lam, s, t, dlam, ds, dt, 0.0, 0.0, sigma_mu, cell_rows, block_start, b, c_val, pi
        )
        if it == 0:
            # Let the first steps leave the (arbitrary) start boldly: the merit may rise up
            # to 10x while the first value stays in the window.
            hist[1:] = 10.0 * phi0
        hist[it % hist.shape[0]] = phi0
        phi_ref = hist.max()
        for _ls in range(40):
            phi1, res_try, mu_try = _kkt_merit(
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
                c_val,
                pi,
            )
            # Infeasibility may not lag behind complementarity (Wright 1997, ch. 6): once
            # mu is far below what A q - b justifies, the iterates stick to a wrong face.
            if (
                phi1 <= (1.0 - 1e-4 * min(alpha_p, alpha_d)) * phi_ref
                and mu_try >= _BALANCE * balance * res_try
            ):
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
    if best_f == np.inf:
        # Stalled before the first certificate: bound the optimum from where it stopped.
        _apply_at(lam, cell_rows, c_val)
        _softmax_blocks(c_val, block_start, pi, lse)
        for j in range(nb):
            for c in range(block_start[j], block_start[j + 1]):
                q[c] = s[j] * pi[c]
        best_q, best_f, best_lower = _keep_best(
            q,
            lam,
            best_q,
            best_f,
            best_lower,
            cell_rows,
            block_start,
            b,
            row0_start,
            cell_full,
            p_full,
            n_y,
        )
    return best_q, lam, best_f, best_lower, it, status


@numba.njit(cache=True)
def _keep_best(
    q: np.ndarray,
    lam: np.ndarray,
    best_q: np.ndarray,
    best_f: float,
    best_lower: float,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
    cell_full: np.ndarray,
    p_full: np.ndarray,
    n_y: int,
) -> tuple[np.ndarray, float, float]:
    """Bound the optimum from the iterate (q, lam); keep the best bounds seen so far.

    The upper bound is f at the feasible point nearest q's fit (an infeasible q's f may lie
    below the optimum); the lower bound is lam made dual feasible. Multipliers that rounding
    made non-finite give no bound and are passed over.
    """
    qf, worst = feasible_point(q, cell_full, p_full, n_y, _IPF_SWEEPS)
    f_val = objective(qf, block_start)
    lower = certify(lam, cell_rows, block_start, b, row0_start)
    if np.isfinite(lower) and lower > best_lower:
        best_lower = lower
    if worst <= FEASIBLE_TOL and f_val < best_f:
        best_f = f_val
        best_q = qf
    return best_q, best_f, best_lower
