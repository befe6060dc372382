"""I_wedge (I_GK): redundancy as the information of the Gacs-Korner common variable.

Griffith, Chong, James, Ellison & Crutchfield (2014): I_cap(alpha) = I(meet of alpha; Y).
"""

from __future__ import annotations

import math

import numpy as np

from synergy.pid.lattice import Antichain
from synergy.pid.measures._common import mutual_information_bits
from synergy.pid.registry import register_measure

__all__ = ["common_variable", "gk_batched", "gk_redundancy"]


def common_variable(support: np.ndarray, alpha: Antichain) -> np.ndarray:
    """Label every source cell with its Gacs-Korner common part (the meet of the elements).

    Parameters
    ----------
    support : ndarray of bool, shape (B, n_1, ..., n_k)
        Where p(x_1, ..., x_k) > 0.
    alpha : tuple of tuple of int
        An antichain of source indices.

    Returns
    -------
    ndarray of int64, shape (B, n_1, ..., n_k)
        Cells of the support joined when they share the value of some element A_i, closed
        transitively (the connected components); each labelled by its smallest cell index.
        Cells outside the support get the label n_1 * ... * n_k.

    Examples
    --------
    >>> from synergy.testing import GATES
    >>> support = GATES["RdnXor"].table.sum(axis=-1)[None] > 0  # X_i = (r, bit): r shared
    >>> common_variable(support, ((0,), (1,)))[0]
    array([[ 0,  0, 16, 16],
           [ 0,  0, 16, 16],
           [16, 16, 10, 10],
           [16, 16, 10, 10]])
    """
    shape = support.shape[1:]
    outside = math.prod(shape)
    cells = np.broadcast_to(np.arange(outside).reshape(shape), support.shape)
    labels = np.where(support, cells, outside)
    # Each sweep gives every cell the least label among the cells sharing one element's
    # value; labels only fall, so at most one sweep per cell before nothing changes.
    for _ in range(outside + 1):
        previous = labels
        for element in alpha:
            drop = tuple(i + 1 for i in range(len(shape)) if i not in element)
            if drop:
                least = labels.min(axis=drop, keepdims=True)
                labels = np.where(support, np.broadcast_to(least, labels.shape), outside)
        if np.array_equal(labels, previous):
            break
    return labels


def gk_batched(stack: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_wedge(alpha) = I(C; Y), C the Gacs-Korner common variable of alpha, in bits.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices; each element stands for the union of its sources.

    Returns
    -------
    ndarray of shape (B,)
        The redundancy in bits.

    Notes
    -----
    The common variable is read from the support of p(x_1, ..., x_k): two source outcomes
    carry the same value of C when a chain of outcomes joins them, each sharing the value
    of some element with the next (Gacs & Korner 1973). For one element, C = A.

    References
    ----------
    V. Griffith, E. K. P. Chong, R. G. James, C. J. Ellison and J. P. Crutchfield,
    "Intersection information based on common randomness", Entropy 16(4), 1985 (2014).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import AND, RDN
    >>> gk_batched(np.stack([AND, RDN]), ((0,), (1,))).round(6)  # AND: no common part
    array([0., 1.])
    """
    n_batch, n_y = stack.shape[0], stack.shape[-1]
    support = stack.sum(axis=-1) > 0
    labels = common_variable(support, alpha).reshape(n_batch, -1)
    n_labels = labels.shape[1] + 1
    offsets = (np.arange(n_batch)[:, None] * n_labels + labels)[:, :, None] * n_y
    index = offsets + np.arange(n_y)
    joint = np.bincount(
        index.ravel(),
        weights=stack.reshape(n_batch, -1, n_y).ravel(),
        minlength=n_batch * n_labels * n_y,
    ).reshape(n_batch, n_labels, n_y)
    return mutual_information_bits(joint)


def gk_redundancy(p: np.ndarray, alpha: Antichain) -> float:
    """I_wedge(alpha) of one merged table, in bits; the one-table form of :func:`gk_batched`.

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
    >>> from synergy.testing import GATES
    >>> round(gk_redundancy(GATES["RdnXor"].table, ((0,), (1,))), 6)  # the shared bit r
    1.0
    """
    return float(gk_batched(np.asarray(p, dtype=np.float64)[np.newaxis], alpha)[0])


register_measure("gk", gk_redundancy, batched=gk_batched)
