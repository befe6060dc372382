"""Plumbing shared by the closed-form synergy measures: argument checks and source stacks.

Specific and mutual information come from synergy.information, the library's one copy of each.
"""

from __future__ import annotations

import numpy as np

from synergy._validate import (
    InvalidDistributionError,
    as_table,
    check_base,
    check_batch_ndim,
    invalid,
    resolve_sources,
)
from synergy.information import entropy_bits, specific_information_nats

__all__ = [
    "finish",
    "mutual_information_bits",
    "prepare",
    "specific_informations",
    "target_marginal",
    "union",
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
) -> tuple[np.ndarray, Groups, float, int]:
    """Check a measure's arguments: (table, source groups, log2(base), batch_ndim).

    Measures work in bits and divide by log2(base) once; it is exactly 1.0 for base 2, so
    dyadic tables such as XOR come out exact.
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
    groups = resolve_sources(sources, table.ndim - batch_ndim, func=func, min_sources=min_sources)
    return table, groups, log2_base, batch_ndim


def finish(values: np.ndarray, batch_ndim: int) -> float | np.ndarray:
    """A Python float for one table, an ndarray of the batch shape for a batch."""
    if batch_ndim == 0:
        return float(values)
    return np.asarray(values, dtype=np.float64)


def union(groups: Groups) -> tuple[int, ...]:
    """The axes of X, the union of the source groups, sorted."""
    return tuple(sorted({a for g in groups for a in g}))


def target_marginal(table: np.ndarray, batch_ndim: int) -> np.ndarray:
    """p(y), shape (*batch, n_y)."""
    table_axes = tuple(range(batch_ndim, table.ndim - 1))
    return table.sum(axis=table_axes)


def specific_informations(table: np.ndarray, batch_ndim: int, groups: Groups) -> np.ndarray:
    """I(Y=y; A_i) in bits for every group A_i, shape (*batch, k, n_y); 0 where p(y) = 0."""
    nats = [specific_information_nats(table, batch_ndim, g) for g in groups]
    return np.stack(nats, axis=-2) / _LN2


def mutual_information_bits(
    table: np.ndarray, batch_ndim: int, group: tuple[int, ...]
) -> np.ndarray:
    """I(A; Y) in bits, A the (merged) axes of ``group``, shape batch.

    H(A) + H(Y) - H(A, Y) through the library's one entropy sum, as
    synergy.mutual_information does, without re-validating.
    """
    target = (table.ndim - batch_ndim - 1,)
    return (
        entropy_bits(table, batch_ndim, group)
        + entropy_bits(table, batch_ndim, target)
        - entropy_bits(table, batch_ndim, (*group, *target))
    )
