"""Table plumbing the built-in measures share: merged marginals and bit logarithms.

Every function takes a stack of merged tables of shape (B, n_1, ..., n_k, n_y), sources on
axes 1..k and the target last, as the registry hands them over.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import entr

from synergy.pid.lattice import redundancy_lattice

__all__ = [
    "drop_axes",
    "entropy_bits",
    "joint_with_target",
    "log2_or_zero",
    "mutual_information_bits",
    "source_marginal",
    "two_source_atoms",
]

_LN2 = float(np.log(2.0))


def drop_axes(stack: np.ndarray, keep: tuple[int, ...]) -> tuple[int, ...]:
    """Stack axes of the sources not in ``keep`` (axis 0 is the batch, the target last)."""
    return tuple(i + 1 for i in range(stack.ndim - 2) if i not in keep)


def joint_with_target(stack: np.ndarray, element: tuple[int, ...]) -> np.ndarray:
    """P(A, Y) for A the union of the sources in ``element``, shape (B, n_A, n_y)."""
    drop = drop_axes(stack, element)
    joint = stack.sum(axis=drop) if drop else stack
    return joint.reshape(stack.shape[0], -1, stack.shape[-1])


def source_marginal(stack: np.ndarray) -> np.ndarray:
    """P(X_1, ..., X_k) with the target summed out, shape (B, n_1, ..., n_k)."""
    return stack.sum(axis=-1)


def entropy_bits(distribution: np.ndarray) -> np.ndarray:
    """H in bits of each distribution of a stack (all axes but the first); 0 log 0 = 0."""
    return entr(distribution).reshape(distribution.shape[0], -1).sum(axis=1) / _LN2


def mutual_information_bits(joint: np.ndarray) -> np.ndarray:
    """I(A; Y) in bits from P(A, Y) of shape (B, n_A, n_y), as H(A) + H(Y) - H(A, Y)."""
    return entropy_bits(joint.sum(axis=2)) + entropy_bits(joint.sum(axis=1)) - entropy_bits(joint)


def log2_or_zero(x: np.ndarray) -> np.ndarray:
    """log2(x) where x > 0 and 0 elsewhere: the caller weights those cells by zero mass."""
    out = np.zeros(np.shape(x))
    np.log2(x, out=out, where=x > 0)
    return out


def two_source_atoms(shared: Any, unique_1: Any, unique_2: Any, synergy: Any) -> np.ndarray:
    """The four atoms in the order of ``redundancy_lattice(2).nodes`` on the last axis.

    Each argument is a float or an ndarray of one batch shape; the lattice order is
    {0}{1}, {0}, {1}, {0,1}.
    """
    values = {
        ((0,), (1,)): shared,
        ((0,),): unique_1,
        ((1,),): unique_2,
        ((0, 1),): synergy,
    }
    nodes = redundancy_lattice(2).nodes
    return np.stack([np.asarray(values[node], dtype=np.float64) for node in nodes], -1)
