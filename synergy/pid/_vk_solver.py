"""The union-information programme's structure and its dedicated primal-dual Newton solver.

Private to :mod:`synergy.pid.vk`: index plumbing shared with the cvxpy reference, numba kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["Structure", "build_structure", "certify", "objective", "solve_newton"]


@dataclass(frozen=True)
class Structure:
    """The support-reduced programme: min sum q log(q / q(x)) s.t. A q = b, q >= 0.

    Cells are the (x, y) whose every source marginal P(x_i, y) is positive (all others are
    forced to 0 by the constraints); they are sorted by joint x, then y, so that each x owns
    a contiguous block ``block_start[j]:block_start[j + 1]``. Constraint rows are the
    (i, x_i, y) with P(x_i, y) > 0, minus one row per (i >= 1, y): those k - 1 rows per y
    are implied by the others (each source's marginal sums to p(y)), and dropping them
    makes A of full row rank. Source 0 rows come first, grouped by x_0.
    """

    shape: tuple[int, ...]  # merged table shape (n_1, ..., n_k, n_y)
    cell_flat: np.ndarray  # (N,) flat index of each cell in the merged table
    cell_y: np.ndarray  # (N,)
    cell_rows: np.ndarray  # (N, k) row of each cell per source, -1 where dropped
    block_start: np.ndarray  # (n_blocks + 1,)
    b: np.ndarray  # (m,) P(x_i, y) of each kept row
    row0_start: np.ndarray  # (n_1 + 1,) rows of source 0, grouped by x_0
    q0: np.ndarray  # (N,) strictly positive feasible start: prod_i P(x_i, y) / p(y)^(k-1)
    marginals: tuple[np.ndarray, ...]  # P(X_i, Y), each (n_i, n_y)
    py: np.ndarray  # (n_y,)

    @property
    def n_cells(self) -> int:
        return int(self.cell_flat.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.b.shape[0])


def build_structure(t: np.ndarray) -> Structure:
    """Index the programme of the merged table ``t`` of shape (n_1, ..., n_k, n_y)."""
    k = t.ndim - 1
    shape = t.shape
    n_y = shape[-1]
    marginals = tuple(t.sum(axis=tuple(j for j in range(k) if j != i)) for i in range(k))
    py = marginals[0].sum(axis=0)
    mask = np.ones(shape, dtype=bool)
    for i, m in enumerate(marginals):
        view = [1] * (k + 1)
        view[i] = shape[i]
        view[-1] = n_y
        mask &= (m > 0).reshape(view)
    cells = np.nonzero(mask)  # C order: sorted by joint x, then y
    cell_flat = np.ravel_multi_index(cells, shape).astype(np.int64)
    cell_y = cells[-1].astype(np.int64)
    x_flat = cell_flat // n_y
    n_cells = cell_flat.shape[0]
    if n_cells:
        new_block = np.concatenate(([True], x_flat[1:] != x_flat[:-1]))
        block_start = np.concatenate((np.flatnonzero(new_block), [n_cells])).astype(np.int64)
    else:
        block_start = np.zeros(1, dtype=np.int64)

    cell_rows = np.full((n_cells, k), -1, dtype=np.int64)
    b_parts = []
    row0_start = np.zeros(shape[0] + 1, dtype=np.int64)
    offset = 0
    for i, m in enumerate(marginals):
        keep = m > 0
        if i > 0:
            # Drop the first supported x_i of every y: implied by the other rows.
            first = np.argmax(keep, axis=0)
            has = keep.any(axis=0)
            keep = keep.copy()
            keep[first[has], np.flatnonzero(has)] = False
        row_id = np.full(m.shape, -1, dtype=np.int64)
        n_keep = int(keep.sum())
        row_id[keep] = offset + np.arange(n_keep)  # C order: grouped by x_i
        if i == 0:
            row0_start[1:] = offset + np.cumsum(keep.sum(axis=1))
        cell_rows[:, i] = row_id[cells[i], cell_y]
        b_parts.append(m[keep])
        offset += n_keep
    b = np.concatenate(b_parts) if b_parts else np.zeros(0)

    q0 = np.ones(n_cells)
    for i, m in enumerate(marginals):
        q0 *= m[cells[i], cell_y]
    q0 /= py[cell_y] ** (k - 1)
    return Structure(
        shape=tuple(int(s) for s in shape),
        cell_flat=cell_flat,
        cell_y=cell_y,
        cell_rows=cell_rows,
        block_start=block_start,
        b=b,
        row0_start=row0_start,
        q0=q0,
        marginals=marginals,
        py=py,
    )


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


@numba.njit(cache=True)
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
    c_val = np.empty(n)
    _apply_at(lam, cell_rows, c_val)
    n0 = row0_start.shape[0] - 1
    shift = np.zeros(n0)
    # Row of source 0 -> x_0 group, to find each block's x_0.
    for j in range(block_start.shape[0] - 1):
        lo = block_start[j]
        hi = block_start[j + 1]
        mx = -np.inf
        for c in range(lo, hi):
            if c_val[c] > mx:
                mx = c_val[c]
        acc = 0.0
        for c in range(lo, hi):
            acc += math.exp(c_val[c] - mx)
        excess = mx + math.log(acc)
        r0 = cell_rows[lo, 0]
        # Binary search the x_0 group of row r0.
        g_lo = 0
        g_hi = n0
        while g_hi - g_lo > 1:
            mid = (g_lo + g_hi) // 2
            if row0_start[mid] <= r0:
                g_lo = mid
            else:
                g_hi = mid
        if excess > shift[g_lo]:
            shift[g_lo] = excess
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


_PIVOT_FLOOR = 1e-14  # pivot / original diagonal below which the pivot is rounding noise
_PIVOT_HUGE = 1e128


@numba.njit(cache=True)
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
    nb = 48
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


@numba.njit(cache=True)
def _cholesky_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    m = rhs.shape[0]
    y = np.empty(m)
    for i in range(m):
        acc = rhs[i]
        for j in range(i):
            acc -= chol[i, j] * y[j]
        y[i] = acc / chol[i, i]
    x = np.empty(m)
    for i in range(m - 1, -1, -1):
        acc = y[i]
        for j in range(i + 1, m):
            acc -= chol[j, i] * x[j]
        x[i] = acc / chol[i, i]
    return x


@numba.njit(cache=True)
def _apply_kinv(
    v: np.ndarray, u: np.ndarray, gamma: np.ndarray, block_start: np.ndarray, out: np.ndarray
) -> None:
    """out = K^{-1} v, K_x = diag(1/u) - 11^T / s_x, by Sherman-Morrison per block."""
    for j in range(block_start.shape[0] - 1):
        lo = block_start[j]
        hi = block_start[j + 1]
        dot = 0.0
        for c in range(lo, hi):
            dot += u[c] * v[c]
        coef = dot / gamma[j]
        for c in range(lo, hi):
            out[c] = u[c] * v[c] + u[c] * coef


@numba.njit(cache=True)
def _apply_a(v: np.ndarray, cell_rows: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros(m)
    n, k = cell_rows.shape
    for c in range(n):
        for i in range(k):
            r = cell_rows[c, i]
            if r >= 0:
                out[r] += v[c]
    return out


@numba.njit(cache=True)
def _schur(
    u: np.ndarray, gamma: np.ndarray, cell_rows: np.ndarray, block_start: np.ndarray, m: int
) -> np.ndarray:
    """S = A K^{-1} A^T, summed block by block (each block: diagonal plus rank one)."""
    s_mat = np.zeros((m, m))
    k = cell_rows.shape[1]
    for j in range(block_start.shape[0] - 1):
        lo = block_start[j]
        hi = block_start[j + 1]
        g = gamma[j]
        for c in range(lo, hi):
            for i in range(k):
                ri = cell_rows[c, i]
                if ri < 0:
                    continue
                for i2 in range(k):
                    r2 = cell_rows[c, i2]
                    if r2 >= 0:
                        s_mat[ri, r2] += u[c]
                for c2 in range(lo, hi):
                    w = u[c] * u[c2] / g
                    for i2 in range(k):
                        r2 = cell_rows[c2, i2]
                        if r2 >= 0:
                            s_mat[ri, r2] += w
    return s_mat


@numba.njit(cache=True)
def _max_step(v: np.ndarray, dv: np.ndarray) -> float:
    alpha = 1.0
    for c in range(v.shape[0]):
        if dv[c] < 0.0:
            a = -v[c] / dv[c]
            if a < alpha:
                alpha = a
    return alpha


@numba.njit(cache=True)
def _merit(
    q: np.ndarray,
    z: np.ndarray,
    at_lam: np.ndarray,
    at_dlam: np.ndarray,
    dq: np.ndarray,
    dz: np.ndarray,
    alpha: float,
    target: float,
    block_start: np.ndarray,
) -> float:
    """||grad f - A^T lam - z||^2 + ||q z - target||^2 at the trial point of step alpha."""
    total = 0.0
    for j in range(block_start.shape[0] - 1):
        s = 0.0
        for c in range(block_start[j], block_start[j + 1]):
            s += q[c] + alpha * dq[c]
        for c in range(block_start[j], block_start[j + 1]):
            qc = q[c] + alpha * dq[c]
            zc = z[c] + alpha * dz[c]
            rd = math.log(qc / s) - at_lam[c] - alpha * at_dlam[c] - zc
            rc = qc * zc - target
            total += rd * rd + rc * rc
    return total


@numba.njit(cache=True)
def solve_newton(
    q0: np.ndarray,
    cell_rows: np.ndarray,
    block_start: np.ndarray,
    b: np.ndarray,
    row0_start: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, float, float, int, int]:
    """Primal-dual interior-point Newton method (Mehrotra predictor-corrector).

    Returns q, lam, f(q), certified lower bound, iterations, status
    (0 converged, 1 iteration limit, 2 numerical failure).
    """
    n = q0.shape[0]
    m = b.shape[0]
    n_blocks = block_start.shape[0] - 1
    q = q0.copy()
    lam = np.zeros(m)
    # Start the slacks at the scale of q, so that mu = q.z / n starts near 1 / n.
    z = np.ones(n)
    grad = np.empty(n)
    at_lam = np.empty(n)
    u = np.empty(n)
    gamma = np.empty(n_blocks)
    r_d = np.empty(n)
    best_lower = -np.inf
    f_val = objective(q, block_start)
    status = 1
    it = 0
    for it in range(max_iter + 1):
        for j in range(n_blocks):
            s = 0.0
            for c in range(block_start[j], block_start[j + 1]):
                s += q[c]
            for c in range(block_start[j], block_start[j + 1]):
                grad[c] = math.log(q[c] / s)
        _apply_at(lam, cell_rows, at_lam)
        for c in range(n):
            r_d[c] = grad[c] - at_lam[c] - z[c]
        f_val = objective(q, block_start)
        lower = certify(lam, cell_rows, block_start, b, row0_start)
        if lower > best_lower:
            best_lower = lower
        if f_val - best_lower <= tol:
            status = 0
            break
        if it == max_iter:
            break
        mu = 0.0
        for c in range(n):
            mu += q[c] * z[c]
        mu /= n
        for j in range(n_blocks):
            s = 0.0
            gsum = 0.0
            for c in range(block_start[j], block_start[j + 1]):
                u[c] = q[c] / (1.0 + z[c])
                s += q[c]
                gsum += q[c] * z[c] / (1.0 + z[c])
            gamma[j] = gsum
        s_mat = _schur(u, gamma, cell_rows, block_start, m)
        chol = _safe_cholesky(s_mat)
        r_p = _apply_a(q, cell_rows, m) - b
        # Predictor (sigma = 0), then Mehrotra's corrector with the same factorisation.
        dq = np.empty(n)
        dz = np.empty(n)
        rhs_q = np.empty(n)
        kv = np.empty(n)
        alpha_p = 1.0
        alpha_d = 1.0
        corr = np.zeros(n)
        sigma_mu = 0.0
        for phase in range(2):
            if phase == 1:
                mu_aff = 0.0
                for c in range(n):
                    mu_aff += (q[c] + alpha_p * dq[c]) * (z[c] + alpha_d * dz[c])
                mu_aff /= n
                sigma = (mu_aff / mu) ** 3
                if sigma > 1.0:
                    sigma = 1.0
                sigma_mu = sigma * mu
                for c in range(n):
                    corr[c] = dq[c] * dz[c]
            for c in range(n):
                r_c = q[c] * z[c] + corr[c] - sigma_mu
                rhs_q[c] = -r_d[c] - r_c / q[c]
            _apply_kinv(rhs_q, u, gamma, block_start, kv)
            rhs_l = -r_p - _apply_a(kv, cell_rows, m)
            dlam = _cholesky_solve(chol, rhs_l)
            _apply_at(dlam, cell_rows, at_lam)
            for c in range(n):
                at_lam[c] += rhs_q[c]
            _apply_kinv(at_lam, u, gamma, block_start, dq)
            for c in range(n):
                r_c = q[c] * z[c] + corr[c] - sigma_mu
                dz[c] = (-r_c - z[c] * dq[c]) / q[c]
            alpha_p = _max_step(q, dq)
            alpha_d = _max_step(z, dz)
        eta = 0.99
        alpha = min(1.0, eta * min(alpha_p, alpha_d))
        # Globalise by the KKT residual: the log in grad f is poorly modelled by its
        # linearisation when cells shrink many-fold, so full steps can undo progress.
        _apply_at(lam, cell_rows, at_lam)
        at_dlam = np.empty(n)
        _apply_at(dlam, cell_rows, at_dlam)
        m0 = _merit(q, z, at_lam, at_dlam, dq, dz, 0.0, sigma_mu, block_start)
        for _ls in range(30):
            m1 = _merit(q, z, at_lam, at_dlam, dq, dz, alpha, sigma_mu, block_start)
            if m1 <= (1.0 - 1e-4 * alpha) * m0:
                break
            alpha *= 0.5
        for c in range(n):
            q[c] += alpha * dq[c]
            z[c] += alpha * dz[c]
        for r in range(m):
            lam[r] += alpha * dlam[r]
    return q, lam, f_val, best_lower, it, status
