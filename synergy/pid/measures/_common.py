"""Table plumbing the built-in measures share: merged marginals and bit logarithms.

Marginals and entropies come from the library's one marginal (synergy._kernels) and one
entropy sum (synergy.information).

Every function takes a stack of merged tables of shape (B, n_1, ..., n_k, n_y), sources on
axes 1..k and the target last, as the registry hands them over.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synergy import _kernels
from synergy.information import entropy_bits
from synergy.pid.lattice import redundancy_lattice

__all__ = [
    "drop_axes",
    "joint_with_target",
    "log2_or_zero",
    "mutual_information_bits",
    "source_marginal",
    "two_source_atoms",
]


def drop_axes(stack: np.ndarray, keep: tuple[int, ...]) -> tuple[int, ...]:
    """Stack axes of the sources not in ``keep`` (axis 0 is the batch, the target last)."""
    return tuple(i + 1 for i in range(stack.ndim - 2) if i not in keep)


def _table_stack(stack: np.ndarray) -> np.ndarray:
    """The stack as the library's kernels take it: float64, C-contiguous (no copy if so)."""
    return np.ascontiguousarray(stack, dtype=np.float64)


def joint_with_target(stack: np.ndarray, element: tuple[int, ...]) -> np.ndarray:
    """P(A, Y) for A the union of the sources in ``element``, shape (B, n_A, n_y)."""
    target = stack.ndim - 2  # table axes: the sources, then the target
    joint = _kernels.marginal(_table_stack(stack), 1, (*sorted(element), target))
    return joint.reshape(stack.shape[0], -1, stack.shape[-1])


def source_marginal(stack: np.ndarray) -> np.ndarray:
    """P(X_1, ..., X_k) with the target summed out, shape (B, n_1, ..., n_k)."""
    return _kernels.marginal(_table_stack(stack), 1, tuple(range(stack.ndim - 2)))


def mutual_information_bits(joint: np.ndarray) -> np.ndarray:
    """I(A; Y) in bits from P(A, Y) of shape (B, n_A, n_y), as H(A) + H(Y) - H(A, Y).

    Through the library's one entropy sum, which takes the marginals inside its kernel.
    """
    joint = _table_stack(joint)
    return (
        entropy_bits(joint, 1, (0,))
        + entropy_bits(joint, 1, (1,))
        - entropy_bits(joint, 1, (0, 1))
    )


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
