"""Plumbing shared by the closed-form measures: argument checks, marginals, per-source sums.

Specific and mutual information come from synergy.information, the library's one copy of each.
"""

from __future__ import annotations

import numpy as np

from synergy import _kernels
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
    "entropy_of",
    "finish",
    "joint_with_target",
    "marginal",
    "mutual_informations",
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


def marginal(table: np.ndarray, batch_ndim: int, keep: tuple[int, ...]) -> np.ndarray:
    """The marginal over the table axes ``keep`` (sorted), shape (*batch, *kept sizes)."""
    return _kernels.marginal(table, batch_ndim, keep)


def joint_with_target(table: np.ndarray, batch_ndim: int, group: tuple[int, ...]) -> np.ndarray:
    """P(A, Y) with the axes of ``group`` merged into one, shape (*batch, n_A, n_y)."""
    target = table.ndim - batch_ndim - 1
    joint = marginal(table, batch_ndim, (*group, target))
    return joint.reshape(*table.shape[:batch_ndim], -1, table.shape[-1])


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
