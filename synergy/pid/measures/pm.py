"""I_pm (I_±): redundancy from pointwise specificity and ambiguity (Finn & Lizier 2018).

r(s, t) = min_i h(a_i) - min_i h(a_i | t), averaged over the joint distribution.
"""

from __future__ import annotations

import numpy as np

from synergy.pid.lattice import Antichain
from synergy.pid.measures._common import drop_axes, log2_or_zero
from synergy.pid.registry import register_measure

__all__ = ["pm_batched", "pm_redundancy"]


def pm_batched(stack: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_pm(alpha) in bits for a stack of tables.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices; each element stands for the union of its sources.

    Returns
    -------
    ndarray of shape (B,)
        sum_{s,t} p(s, t) [min_i -log2 p(a_i) - min_i -log2 p(a_i | t)] over the cells with
        p(s, t) > 0, in bits.

    References
    ----------
    C. Finn and J. T. Lizier, "Pointwise partial information decomposition using the
    specificity and ambiguity lattices", Entropy 20(4), 297 (2018).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import AND, XOR
    >>> pm_batched(np.stack([AND, XOR]), ((0,), (1,))).round(6)
    array([0.561278, 0.      ])
    """
    target_axes = tuple(range(1, stack.ndim - 1))
    p_y = stack.sum(axis=target_axes, keepdims=True)
    inv_p_y = np.divide(1.0, p_y, out=np.zeros_like(p_y), where=p_y > 0)
    specificity = np.full(stack.shape, np.inf)
    ambiguity = np.full(stack.shape, np.inf)
    for element in alpha:
        drop = drop_axes(stack, element)
        p_ay = stack.sum(axis=drop, keepdims=True) if drop else stack
        p_a = p_ay.sum(axis=-1, keepdims=True)
        # On cells with p(s, t) > 0 every marginal is > 0; elsewhere the value is weighted by 0.
        specificity = np.minimum(specificity, np.broadcast_to(-log2_or_zero(p_a), stack.shape))
        ambiguity = np.minimum(
            ambiguity, np.broadcast_to(-log2_or_zero(p_ay * inv_p_y), stack.shape)
        )
    pointwise = np.where(stack > 0, specificity - ambiguity, 0.0)
    return (stack * pointwise).reshape(stack.shape[0], -1).sum(axis=1)


def pm_redundancy(p: np.ndarray, alpha: Antichain) -> float:
    """I_pm(alpha) of one merged table, in bits; the one-table form of :func:`pm_batched`.

    Parameters
    ----------
    p : ndarray of shape (n_1, ..., n_k, n_y)
        One merged table, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices; each element stands for the union of its sources.

    Returns
    -------
    float
        I_cap(alpha) in bits.

    Examples
    --------
    >>> from synergy.testing import AND
    >>> round(pm_redundancy(AND, ((0,), (1,))), 6)
    0.561278
    """
    return float(pm_batched(np.asarray(p, dtype=np.float64)[np.newaxis], alpha)[0])


register_measure("pm", pm_redundancy, batched=pm_batched)
