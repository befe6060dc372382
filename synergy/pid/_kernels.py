"""Numba kernels and table plumbing shared by the closed-form synergy measures.

Sources are merged into single axes here, so that every measure sees stacks of P(A_i, Y).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from synergy._validate import (
    InvalidDistributionError,
    as_table,
    check_base,
    check_batch_ndim,
    invalid,
    resolve_sources,
)

__all__ = [
    "MODE_MAX",
    "MODE_MIN",
    "MODE_SUM",
    "finish",
    "merged_joint",
    "prepare",
    "reduce_specific",
    "source_stack",
    "specific_stack",
    "whole_mutual_information",
]

# How reduce_specific combines the per-source specific informations at each y.
MODE_MIN = 0
MODE_MAX = 1
MODE_SUM = 2


def merged_joint(p: np.ndarray, batch_ndim: int, group: tuple[int, ...]) -> np.ndarray:
    """P(A, Y) with the axes of ``group`` merged into one: shape (*batch, n_A, n_y).

    ``group`` holds table axes (sorted, target excluded); every other source axis is
    summed out. The merged index runs over ``group``'s axes in C order.
    """
    table_ndim = p.ndim - batch_ndim
    target = table_ndim - 1
    drop = tuple(batch_ndim + a for a in range(target) if a not in group)
    joint = p.sum(axis=drop) if drop else p
    batch_shape = p.shape[:batch_ndim]
    return joint.reshape((*batch_shape, -1, p.shape[-1]))


def source_stack(
    p: np.ndarray, batch_ndim: int, groups: tuple[tuple[int, ...], ...]
) -> np.ndarray:
    """Stack P(A_i, Y) for every group into (B, k, max n_A, n_y), zero padded.

    Padding rows are all zero, so they add nothing to any sum over a (0 log 0 = 0); the
    batch axes are flattened into B.
    """
    joints = [merged_joint(p, batch_ndim, g) for g in groups]
    n_batch = int(np.prod(p.shape[:batch_ndim], dtype=np.int64))
    width = max(j.shape[-2] for j in joints)
    stack = np.zeros((n_batch, len(joints), width, p.shape[-1]))
    for i, j in enumerate(joints):
        stack[:, i, : j.shape[-2], :] = j.reshape(n_batch, j.shape[-2], p.shape[-1])
    return stack


@numba.njit(cache=True)
def _specific_stack_kernel(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_batch, n_src, n_a, n_y = stack.shape
    spec = np.zeros((n_batch, n_src, n_y))
    p_y = np.zeros((n_batch, n_y))
    p_a = np.zeros(n_a)
    for b in range(n_batch):
        for y in range(n_y):
            total = 0.0
            for a in range(n_a):
                total += stack[b, 0, a, y]
            p_y[b, y] = total
        for i in range(n_src):
            for a in range(n_a):
                total = 0.0
                for y in range(n_y):
                    total += stack[b, i, a, y]
                p_a[a] = total
            for y in range(n_y):
                py = p_y[b, y]
                if py <= 0.0:
                    continue
                acc = 0.0
                for a in range(n_a):
                    pay = stack[b, i, a, y]
                    if pay > 0.0:
                        acc += pay * math.log(pay / (p_a[a] * py))
                spec[b, i, y] = acc / py
    return spec, p_y


def specific_stack(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Specific informations I(Y=y; A_i) in nats, shape (B, k, n_y), and p(y), shape (B, n_y).

    I(Y=y; A) = sum_a p(a|y) log(p(a|y) / p(a)) = D_KL[P(A|y) || P(A)]; 0 where p(y) = 0.
    """
    return _specific_stack_kernel(np.ascontiguousarray(stack))


@numba.njit(cache=True)
def _reduce_kernel(stack: np.ndarray, mode: int) -> np.ndarray:
    # Fused specific information + reduction over sources: no (B, k, n_y) temporary,
    # which is what makes 10^5 small tables cheap.
    n_batch, n_src, n_a, n_y = stack.shape
    out = np.zeros(n_batch)
    p_a = np.zeros((n_src, n_a))
    for b in range(n_batch):
        for i in range(n_src):
            for a in range(n_a):
                total = 0.0
                for y in range(n_y):
                    total += stack[b, i, a, y]
                p_a[i, a] = total
        value = 0.0
        for y in range(n_y):
            py = 0.0
            for a in range(n_a):
                py += stack[b, 0, a, y]
            if py <= 0.0:
                continue
            best = 0.0
            for i in range(n_src):
                acc = 0.0
                for a in range(n_a):
                    pay = stack[b, i, a, y]
                    if pay > 0.0:
                        acc += pay * math.log(pay / (p_a[i, a] * py))
                # acc is p(y) * I(Y=y; A_i)
                if i == 0:
                    best = acc
                elif mode == 0:
                    best = min(best, acc)
                elif mode == 1:
                    best = max(best, acc)
                else:
                    best += acc
            value += best
        out[b] = value
    return out


def reduce_specific(stack: np.ndarray, mode: int) -> np.ndarray:
    """sum_y p(y) R_i I(Y=y; A_i) in nats for R = min, max or sum over sources; shape (B,)."""
    return _reduce_kernel(np.ascontiguousarray(stack), mode)


@numba.njit(cache=True)
def _mutual_information_kernel(joint: np.ndarray) -> np.ndarray:
    n_batch, n_x, n_y = joint.shape
    out = np.zeros(n_batch)
    p_x = np.zeros(n_x)
    p_y = np.zeros(n_y)
    for b in range(n_batch):
        for x in range(n_x):
            p_x[x] = 0.0
        for y in range(n_y):
            p_y[y] = 0.0
        for x in range(n_x):
            for y in range(n_y):
                p_x[x] += joint[b, x, y]
                p_y[y] += joint[b, x, y]
        acc = 0.0
        for x in range(n_x):
            for y in range(n_y):
                pxy = joint[b, x, y]
                if pxy > 0.0:
                    acc += pxy * math.log(pxy / (p_x[x] * p_y[y]))
        out[b] = acc
    return out


def whole_mutual_information(
    p: np.ndarray, batch_ndim: int, groups: tuple[tuple[int, ...], ...]
) -> np.ndarray:
    """I(X; Y) in nats with X the union of the source groups, shape (B,)."""
    union = tuple(sorted({a for g in groups for a in g}))
    joint = merged_joint(p, batch_ndim, union)
    n_batch = int(np.prod(p.shape[:batch_ndim], dtype=np.int64))
    flat = np.ascontiguousarray(joint.reshape(n_batch, joint.shape[-2], joint.shape[-1]))
    return _mutual_information_kernel(flat)


def prepare(
    p: object,
    sources: object,
    *,
    func: str,
    base: float,
    batch_ndim: int,
    validate: bool,
    min_sources: int = 1,
) -> tuple[np.ndarray, tuple[tuple[int, ...], ...], float, int]:
    """Check a measure's arguments: (table, source groups, log(base), batch_ndim)."""
    batch_ndim = check_batch_ndim(batch_ndim, func)
    log_base = check_base(base, func)
    table = as_table(p, func=func, batch_ndim=batch_ndim, validate=validate, min_table_ndim=2)
    if table.ndim - batch_ndim < 2:
        # Reached only with validate=False; the message must still be the library's.
        raise invalid(
            "p",
            func,
            "a table with at least one source axis and the target axis last",
            f"an array of shape {table.shape} with batch_ndim={batch_ndim}",
            kind=InvalidDistributionError,
        )
    groups = resolve_sources(sources, table.ndim - batch_ndim, func=func, min_sources=min_sources)
    return table, groups, log_base, batch_ndim


def finish(values: np.ndarray, table: np.ndarray, batch_ndim: int) -> float | np.ndarray:
    """A Python float for one table, an array of the batch shape for a batch."""
    if batch_ndim == 0:
        return float(values[0])
    return values.reshape(table.shape[:batch_ndim])
