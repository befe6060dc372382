"""Plumbing shared by the closed-form measures: argument checks, marginals, per-source sums.

Specific and mutual information come from synergy.information, the library's one copy of each.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synergy import _kernels
from synergy._validate import (
    InvalidDistributionError,
    as_table,
    check_base,
    check_batch_ndim,
    invalid,
    resolve_target_sources,
)
from synergy.information import entropy_bits, specific_information_nats

__all__ = [
    "entropy_of",
    "joint_with_target",
    "marginal",
    "mutual_informations",
    "prepare",
    "sources_as_given",
    "specific_informations",
    "target_last",
    "target_marginal",
    "union",
    "with_target_last",
]

_LN2 = float(np.log(2.0))

Groups = tuple[tuple[int, ...], ...]


def prepare(
    p: object,
    sources: object,
    *,
    func: str,
    base: float,
    batch_ndim: int,
    validate: bool,
    min_sources: int = 1,
    target: object = -1,
) -> tuple[np.ndarray, Groups, float, int]:
    """Check a measure's arguments: (table, source groups, log2(base), batch_ndim).

    The table comes back with its ``target`` axis last and the groups renumbered to match
    (a view; the table itself when the target is last already). Measures work in bits and
    divide by log2(base) once; it is exactly 1.0 for base 2, so dyadic tables such as XOR
    come out exact.
    """
    batch_ndim = check_batch_ndim(batch_ndim, func)
    log2_base = check_base(base, func) / _LN2
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
    axis, groups = resolve_target_sources(
        sources,
        target,
        table.ndim - batch_ndim,
        func=func,
        batch_ndim=batch_ndim,
        min_sources=min_sources,
    )
    return target_last(table, batch_ndim, axis), groups, log2_base, batch_ndim


def target_last(table: np.ndarray, batch_ndim: int, axis: int) -> np.ndarray:
    """``table`` with its table axis ``axis`` moved last: a view, ``table`` itself if it is."""
    if axis == table.ndim - batch_ndim - 1:
        return table
    return np.moveaxis(table, batch_ndim + axis, -1)


def sources_as_given(groups: Groups, axis: int) -> Groups:
    """Groups renumbered for a table with its target moved last, back in the table's own axes."""
    return tuple(tuple(a + (a >= axis) for a in g) for g in groups)


def with_target_last(
    p: Any,
    sources: Any,
    target: Any,
    *,
    func: str,
    batch_ndim: Any,
    min_sources: int = 1,
) -> tuple[Any, Any]:
    """``(p, sources)`` with the target axis moved last, for functions that check ``p`` later.

    The default ``target=-1`` returns both untouched, with no conversion. Otherwise the
    groups come back resolved and renumbered for the moved table (a view of ``p`` as an
    array). Input too broken to have axes is returned as it is, for the function's own
    checks to word the error about ``p``.
    """
    if type(target) is int and target == -1:
        return p, sources
    batch_ndim = check_batch_ndim(batch_ndim, func)
    try:
        arr = np.asarray(p)
    except (ValueError, TypeError):  # ragged: the function's checks word the error
        return p, sources
    if arr.ndim - batch_ndim < 2:
        return p, sources
    axis, groups = resolve_target_sources(
        sources,
        target,
        arr.ndim - batch_ndim,
        func=func,
        batch_ndim=batch_ndim,
        min_sources=min_sources,
    )
    return target_last(arr, batch_ndim, axis), groups


def union(groups: Groups) -> tuple[int, ...]:
    """The axes of X, the union of the source groups, sorted."""
    return tuple(sorted({a for g in groups for a in g}))


def marginal(table: np.ndarray, batch_ndim: int, keep: tuple[int, ...]) -> np.ndarray:
    """The marginal over the table axes ``keep`` (sorted), shape (*batch, *kept sizes)."""
    return _kernels.marginal(table, batch_ndim, keep)


def joint_with_target(table: np.ndarray, batch_ndim: int, group: tuple[int, ...]) -> np.ndarray:
    """P(A, Y) with the axes of ``group`` merged into one, shape (*batch, n_A, n_y)."""
    target = table.ndim - batch_ndim - 1
    joint = marginal(table, batch_ndim, (*group, target))
    # n_A spelled out: -1 is ambiguous for a batch of zero tables.
    n_a = math.prod(table.shape[batch_ndim + a] for a in group)
    return joint.reshape(*table.shape[:batch_ndim], n_a, table.shape[-1])


def target_marginal(table: np.ndarray, batch_ndim: int) -> np.ndarray:
    """p(y), shape (*batch, n_y)."""
    return marginal(table, batch_ndim, (table.ndim - batch_ndim - 1,))


def entropy_of(distribution: np.ndarray, batch_ndim: int) -> np.ndarray:
    """H in bits of a (marginal) distribution over all its table axes, shape batch."""
    return entropy_bits(distribution, batch_ndim, tuple(range(distribution.ndim - batch_ndim)))


def specific_informations(table: np.ndarray, batch_ndim: int, groups: Groups) -> np.ndarray:
    """I(Y=y; A_i) in bits for every group A_i, shape (*batch, k, n_y); 0 where p(y) = 0."""
    nats = [
        specific_information_nats(joint_with_target(table, batch_ndim, g), batch_ndim, (0,))
        for g in groups
    ]
    return np.stack(nats, axis=-2) / _LN2


def mutual_informations(table: np.ndarray, batch_ndim: int, groups: Groups) -> list[np.ndarray]:
    """I(A_i; Y) in bits for every group A_i (each shape batch).

    H(A) + H(Y) - H(A, Y) through the library's one entropy sum, as
    synergy.mutual_information does, on marginals taken once.
    """
    h_y = entropy_of(target_marginal(table, batch_ndim), batch_ndim)
    out = []
    for g in groups:
        joint = joint_with_target(table, batch_ndim, g)
        h_a = entropy_of(marginal(joint, batch_ndim, (0,)), batch_ndim)
        out.append(h_a + h_y - entropy_of(joint, batch_ndim))
    return out
