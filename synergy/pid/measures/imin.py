"""I_min: the Williams-Beer redundancy, registered for lattices of up to four sources.

Every node's I_cap comes from one pass of specific informations (synergy.pid.imin).
"""

from __future__ import annotations

import numpy as np

from synergy.pid._plumbing import specific_informations, target_marginal
from synergy.pid.imin import imin_redundancies
from synergy.pid.lattice import Antichain, RedundancyLattice
from synergy.pid.registry import register_measure

__all__ = ["imin_batched", "imin_every_node", "imin_redundancy"]


def _singletons(n_sources: int) -> tuple[tuple[int, ...], ...]:
    return tuple((i,) for i in range(n_sources))


def imin_every_node(stack: np.ndarray, lattice: RedundancyLattice) -> np.ndarray:
    """I_cap(alpha) in bits of every node of ``lattice``, for a stack of merged tables.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.
    lattice : RedundancyLattice
        The lattice of the k sources.

    Returns
    -------
    ndarray of shape (B, N)
        I_min of every node, in the order of ``lattice.nodes``, in bits.

    Notes
    -----
    I_cap(alpha) = sum_y p(y) min_{A in alpha} I(Y=y; A): the specific information of each
    of the 2^k - 1 unions of sources is computed once and shared by every node.

    Examples
    --------
    >>> from synergy.testing import AND
    >>> from synergy.pid.lattice import redundancy_lattice
    >>> imin_every_node(AND[None], redundancy_lattice(2)).round(6)  # Williams & Beer (2010)
    array([[0.311278, 0.311278, 0.311278, 0.811278]])
    """
    n_sources = stack.ndim - 2
    return imin_redundancies(stack, _singletons(n_sources), lattice, batch_ndim=1)


def imin_batched(stack: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_min(alpha) in bits of one antichain, for a stack of merged tables.

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

    Examples
    --------
    >>> from synergy.testing import AND
    >>> imin_batched(AND[None], ((0,), (1,))).round(6)
    array([0.311278])
    """
    spec = specific_informations(stack, 1, alpha)
    return np.einsum("by,by->b", target_marginal(stack, 1), spec.min(axis=-2))


def imin_redundancy(p: np.ndarray, alpha: Antichain) -> float:
    """I_min(alpha) of one merged table, in bits; the one-table form of :func:`imin_batched`.

    Parameters
    ----------
    p : ndarray of shape (n_1, ..., n_k, n_y)
        One merged table, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices.

    Returns
    -------
    float
        I_cap(alpha) in bits.

    Examples
    --------
    >>> from synergy.testing import XOR
    >>> imin_redundancy(XOR, ((0, 1),))  # I(X1 X2; Y) of XOR
    1.0
    """
    return float(imin_batched(np.asarray(p, dtype=np.float64)[np.newaxis], alpha)[0])


register_measure("imin", imin_redundancy, batched=imin_batched, every_node=imin_every_node)
