"""Union information I_VK and synergy S_VK on tensors: the certified solver forward, the
envelope theorem backward.

The optimum comes from :func:`synergy.pid.union_information` on a detached float64 copy;
its gradient from the optimal multipliers of the marginal constraints, fitted to the
optimal Q in the forward pass, so that the backward pass is one product per table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import entr

from synergy._validate import check_solver_options
from synergy.pid.vk import _bounded_blas
from synergy.pid.vk import union_information as solve_union_information
from synergy.torch._information import mutual_information_nats
from synergy.torch._pid import Groups, prepare
from synergy.torch._tensor import Tensor, entropy_nats, marginal, torch

__all__ = ["s_vk", "union_information", "union_nats"]

# Tables per normal-equation solve: bounds the (tables, rows, rows) work arrays.
_FIT_CHUNK = 4096


def merge_groups(table: Tensor, batch_ndim: int, groups: Groups) -> Tensor:
    """The table with axes in no group summed out and each group merged into one axis.

    Shape (n_tables, n_1, ..., n_k, n_y), the batch flattened, in the order of ``groups``
    (the layout of the numpy solver's ``q``). Written in torch ops, so that autograd
    carries the merged table's gradient back to the cells of ``table``.
    """
    target = table.ndim - batch_ndim - 1
    used = [a for g in groups for a in g]
    kept = (*sorted(used), target)
    m = marginal(table, batch_ndim, kept)
    position = {a: batch_ndim + i for i, a in enumerate(kept)}
    order = [*range(batch_ndim), *(position[a] for a in used), position[target]]
    m = m.permute(order)
    sizes = [math.prod(table.shape[batch_ndim + a] for a in g) for g in groups]
    return m.reshape(-1, *sizes, table.shape[-1])


def _design(dims: tuple[int, ...], n_y: int) -> np.ndarray:
    """0/1 matrix D of shape (n_cells, n_rows): (D lam)(x, y) = sum_i lam_i(x_i, y).

    The rows are the marginal constraints (i, x_i, y) less the gauge: adding c_i(y) with
    sum_i c_i(y) = 0 to the lam_i changes no sum, so the rows x_i = 0 of every source but
    the first are left out (lam_i(0, y) = 0 for i >= 2). What is left is a basis of the
    functions sum_i g_i(x_i, y): n_y (1 + sum_i (n_i - 1)) rows.
    """
    n_x = math.prod(dims)
    symbols = np.unravel_index(np.arange(n_x), dims)
    blocks = []
    for i, (n_i, x_i) in enumerate(zip(dims, symbols, strict=True)):
        first = 0 if i == 0 else 1
        onehot = (x_i[:, None] == np.arange(first, n_i)[None, :]).astype(np.float64)
        blocks.append(onehot)
    by_x = np.concatenate(blocks, axis=1)  # (n_x, rows per y)
    # Cell (x, y) uses row (r, y): a Kronecker product with the identity over y.
    return np.kron(by_x, np.eye(n_y))


def envelope_gradient(q: np.ndarray) -> np.ndarray:
    """d min_Q f / dP on every cell: sum_i lam_i(x_i, y) from the optimal multipliers.

    ``q`` holds optimal tables of shape (n_tables, n_1, ..., n_k, n_y), f(Q) = sum Q log
    Q(y | x). At the optimum, stationarity reads sum_i lam_i(x_i, y) = log Q(y | x) on
    every cell with Q > 0 (the dual constraint logsumexp_y sum_i lam_i(x_i, y) <= 0 is
    active there), and the multipliers are fitted to it by least squares weighted by Q:
    normal equations D^T diag(Q) D lam = D^T (Q log Q(y | x)). The fit is exact where the
    optimum is exact, and the weights make a Q that is optimal only to the solver's
    tolerance count each cell by its mass. A constraint row that no cell with Q > 0 uses
    (a marginal P(x_i, y) = 0) gets lam = 0. Where the cells with Q > 0 do not pin the
    multipliers down (a degenerate optimum), the fit takes the least-squares solution of
    minimum norm. Returns an array of the shape of ``q``.
    """
    n_tables = q.shape[0]
    dims, n_y = q.shape[1:-1], q.shape[-1]
    design = _design(tuple(int(d) for d in dims), int(n_y))
    n_rows = design.shape[1]
    # D^T diag(w) D for every table at once: w @ pairs, pairs[c, (r, s)] = D[c, r] D[c, s].
    pairs = (design[:, :, None] * design[:, None, :]).reshape(design.shape[0], -1)
    cells = q.reshape(n_tables, -1)
    out = np.empty_like(cells)
    for lo in range(0, n_tables, _FIT_CHUNK):
        w = cells[lo : lo + _FIT_CHUNK]
        block = w.reshape(w.shape[0], -1, n_y).sum(axis=2, keepdims=True)
        positive = w.reshape(block.shape[0], -1, n_y) > 0
        safe_q = np.where(positive, w.reshape(positive.shape), 1.0)
        safe_block = np.where(block > 0, block, 1.0)
        target = np.where(positive, np.log(safe_q / safe_block), 0.0).reshape(w.shape)
        normal = (w @ pairs).reshape(w.shape[0], n_rows, n_rows)
        rhs = (w * target) @ design
        table_of, row = np.nonzero(np.einsum("trr->tr", normal) <= 0.0)
        normal[table_of, row, row] = 1.0  # a row no cell with Q > 0 uses: lam = 0
        lam = _solve_normal(normal, rhs)
        out[lo : lo + _FIT_CHUNK] = lam @ design.T
    return out.reshape(q.shape)


def _solve_normal(normal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive semi-definite systems; minimum norm where singular."""
    try:
        lam = np.linalg.solve(normal, rhs[..., None])[..., 0]
        if np.all(np.isfinite(lam)):
            scale = np.abs(normal).max(axis=(1, 2))
            residual = np.abs(np.einsum("trs,ts->tr", normal, lam) - rhs).max(axis=1)
            size = np.abs(lam).max(axis=1)
            # A residual far above rounding flags a singular or near-singular system.
            bad = residual > 1e-9 * scale * np.maximum(size, 1.0)
            if not bad.any():
                return lam
            lam[bad] = _min_norm(normal[bad], rhs[bad])
            return lam
    except np.linalg.LinAlgError:
        pass
    return _min_norm(normal, rhs)


def _min_norm(normal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.einsum("trs,ts->tr", np.linalg.pinv(normal, rcond=1e-12, hermitian=True), rhs)


class _ConditionalPart(torch.autograd.Function):
    """min over Q in Delta(P) of f(Q) = sum Q log Q(y | x) (nats), for merged tables.

    f is positively 1-homogeneous, so for a table of total s the optimum is s times that of
    the normalised table: the torch closed forms' extension off the simplex (no
    normalisation), and its gradient is the same at P and at P / s.
    """

    @staticmethod
    def forward(
        ctx: Any, merged: Tensor, tol: float, max_iter: int, report: dict[str, Any] | None
    ) -> Tensor:
        x = merged.detach().to(device="cpu", dtype=torch.float64).numpy()
        table_axes = tuple(range(1, x.ndim))
        total = x.sum(axis=table_axes)
        scale = np.where(total > 0, total, 1.0)
        normalised = x / scale.reshape(-1, *(1,) * (x.ndim - 1))
        answer = solve_union_information(
            normalised, base=math.e, tol=tol, max_iter=max_iter, batch_ndim=1, validate=False
        )
        h_y = entr(normalised.sum(axis=table_axes[:-1])).sum(axis=-1)
        f = (np.asarray(answer.value) - h_y) * total
        if report is not None:  # the certificate, for callers that pass it on
            report.update(status=answer.status, gap=answer.gap, iterations=answer.iterations)
        if ctx.needs_input_grad[0]:
            # Small matrices: BLAS threads cost more than they save (3x slower fits at
            # load 7 on 2 cores), so the fit holds BLAS to the solver's one thread.
            with _bounded_blas(True):
                grad = envelope_gradient(np.asarray(answer.q, dtype=np.float64))
            ctx.save_for_backward(torch.from_numpy(grad).to(merged.device, merged.dtype))
        return torch.from_numpy(f).to(merged.device, merged.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None, None]:
        (grad,) = ctx.saved_tensors
        shape = grad_output.shape + (1,) * (grad.ndim - 1)
        return grad_output.reshape(shape) * grad, None, None, None


def union_nats(
    table: Tensor,
    batch_ndim: int,
    groups: Groups,
    tol_nats: float,
    max_iter: int,
    report: dict[str, Any] | None = None,
) -> Tensor:
    """I_VK in nats for checked input, shape batch: H(Y) + min f, differentiable.

    ``report``, when given, receives the solver's ``status``, ``gap`` (nats) and
    ``iterations`` over the flattened batch.
    """
    batch = table.shape[:batch_ndim]
    merged = merge_groups(table, batch_ndim, groups)
    part = _ConditionalPart.apply(merged, tol_nats, max_iter, report)
    target = (table.ndim - batch_ndim - 1,)
    return entropy_nats(table, batch_ndim, target) + part.reshape(batch)


def _prepare_vk(
    p: Any,
    sources: Any,
    func: str,
    base: float,
    batch_ndim: int,
    validate: bool,
    tol: Any,
    max_iter: Any,
    target: Any,
) -> tuple[Tensor, Groups, float, int]:
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func=func,
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        min_sources=2,
        target=target,
    )
    check_solver_options(tol, max_iter, func)
    return table, groups, log_base, batch_ndim


def union_information(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    tol: float = 1e-10,
    max_iter: int = 200,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """Union information I_VK({X_i}; Y) = min over Q in Delta(P) of I_Q(X; Y), differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        At least two disjoint source groups X_i as table axes; a group of several axes
        acts as one variable. Default: each axis but the target on its own. Axes in no
        group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    tol : float, keyword-only
        Proven duality gap the solver must reach, in the unit of ``base`` (as in
        :func:`synergy.pid.union_information`). The gradient is as accurate as the
        optimal Q: tighten ``tol`` for finite-difference checks.
    max_iter : int, keyword-only
        Iteration limit of the solver.
    batch_ndim : int, keyword-only
        Number of leading batch axes; the batch is solved in one call of the batched solver.
    validate : bool, keyword-only
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        I_VK in units of ``base``, on the device and dtype of ``p``. The certificate
        (gap, status, optimal Q) is that of :func:`synergy.pid.union_information`, which
        warns when a table misses ``tol``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources`` (fewer than two groups),
        ``target``, ``base``, ``tol``, ``max_iter`` or ``batch_ndim`` are invalid, or a
        source contains the target axis.

    Warns
    -----
    SynergyConvergenceWarning
        From the solver, when a table's gap stays above ``tol``.

    See Also
    --------
    synergy.pid.union_information : The numpy function and its certificate.
    s_vk : I(X; Y) minus this.

    Notes
    -----
    The forward pass solves the programme on a detached float64 CPU copy of ``p`` with
    the certified solver of :func:`synergy.pid.union_information` (batched over the
    leading axes); the value comes back on the input's device and dtype. The backward
    pass applies the envelope theorem: with f(Q) = sum Q log Q(y | x),
    I_VK(P) = H(Y) + min over Q in Delta(P) of f(Q), and the derivative of the minimum
    with respect to P(x, y) is sum_i lam_i(x_i, y), where lam are the optimal
    multipliers of the constraints Q(x_i, y) = P(x_i, y) in the gauge of the dual
    programme (logsumexp_y sum_i lam_i(x_i, y) <= 0, with equality where Q(x) > 0). They
    are fitted to the optimal Q in the forward pass (sum_i lam_i(x_i, y) = log Q(y | x)
    where Q > 0), so the backward pass is one product per table. H(Y) and the minimum
    are extended off the simplex as the closed forms are (no normalisation; the minimum
    is 1-homogeneous in P), so gradients are with respect to the unconstrained entries.

    The gradient is exact where the optimal multipliers are unique, which includes
    optima with empty blocks Q(x) = 0 whenever the cells with Q > 0 still pin the
    multipliers down. Where they do not (a degenerate optimum, or marginals
    P(x_i, y) = 0), the function is not differentiable and the returned gradient is the
    least-squares multiplier of minimum norm (lam = 0 on constraints with P(x_i, y) = 0):
    a finite surrogate, which is a subgradient when it is dual feasible. At cells with
    P(y) = 0 the H(Y) term follows the zero-cell rule of :func:`entropy`. The
    derivation is in the theory page, "Gradients of S_VK".

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import union_information
    >>> from synergy.testing import AND
    >>> p = torch.tensor(AND, requires_grad=True)
    >>> value = union_information(p)
    >>> round(value.item(), 6)  # BROJA on AND: I(X; Y) - 0.5 bit of synergy
    0.311278
    >>> value.backward()
    >>> p.grad.shape
    torch.Size([2, 2, 2])
    """
    func = "union_information"
    table, groups, log_base, batch_ndim = _prepare_vk(
        p, sources, func, base, batch_ndim, validate, tol, max_iter, target
    )
    tol_nats = float(tol) * abs(log_base)
    return union_nats(table, batch_ndim, groups, tol_nats, int(max_iter)) / log_base


def s_vk(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    tol: float = 1e-10,
    max_iter: int = 200,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """Synergy S_VK({X_i}; Y) = I(X; Y) - I_VK({X_i}; Y), differentiable.

    For two sources, the BROJA synergy.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        At least two disjoint source groups X_i as table axes; a group of several axes
        acts as one variable. Default: each axis but the target on its own. X is the union
        of the groups; axes in no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    tol : float, keyword-only
        Proven duality gap the solver must reach, in the unit of ``base``.
    max_iter : int, keyword-only
        Iteration limit of the solver.
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        S_VK in units of ``base``, on the device and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources`` (fewer than two groups),
        ``target``, ``base``, ``tol``, ``max_iter`` or ``batch_ndim`` are invalid, or a
        source contains the target axis.

    Warns
    -----
    SynergyConvergenceWarning
        From the solver, when a table's gap stays above ``tol``.

    See Also
    --------
    synergy.pid.s_vk : The numpy function.
    union_information : The solver, its gradient and where it is a subgradient.

    Notes
    -----
    I(X; Y) is the torch closed form (its gradient by autograd, with the zero-cell rule
    of :func:`entropy`); I_VK and its gradient are those of :func:`union_information`.
    On cells where P > 0 the gradient is log P(y | x) - sum_i lam_i(x_i, y) in nats.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import s_vk
    >>> from synergy.testing import XOR
    >>> round(s_vk(torch.tensor(XOR)).item(), 9)
    1.0
    """
    func = "s_vk"
    table, groups, log_base, batch_ndim = _prepare_vk(
        p, sources, func, base, batch_ndim, validate, tol, max_iter, target
    )
    target_axis = (table.ndim - batch_ndim - 1,)
    whole = mutual_information_nats(
        table, batch_ndim, tuple(sorted(a for g in groups for a in g)), target_axis
    )
    union = union_nats(table, batch_ndim, groups, float(tol) * abs(log_base), int(max_iter))
    return (whole - union) / log_base
