"""I_sx: shared-exclusion redundancy (Makkeh, Gutknecht & Wibral 2021).

The redundancy of alpha at (s, t) is the information in the union of the events {A_i = a_i}.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

from synergy.pid.lattice import Antichain
from synergy.pid.measures._common import log2_or_zero
from synergy.pid.registry import register_measure

__all__ = ["sx_batched", "sx_redundancy"]


@cache
def _shared_events(shape: tuple[int, ...], alpha: Antichain) -> np.ndarray:
    """M[s, s'] = 1 when source cells s and s' agree on every source of some element of alpha."""
    cells = np.array(list(itertools.product(*(range(n) for n in shape))), dtype=np.int64)
    match = np.zeros((len(cells), len(cells)), dtype=bool)
    for element in alpha:
        same = np.ones_like(match)
        for axis in element:
            same &= cells[:, None, axis] == cells[None, :, axis]
        match |= same
    out = match.astype(np.float64)
    out.flags.writeable = False
    return out


def sx_batched(stack: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_sx(alpha) in bits for a stack of tables.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices; each element stands for the union of its sources.

    Returns
    -------
    ndarray of shape (B,)
        sum_{s,t} p(s, t) log2[P(U_i {A_i = a_i, T = t}) / (p(t) P(U_i {A_i = a_i}))] over
        the cells with p(s, t) > 0, in bits.

    References
    ----------
    A. Makkeh, A. J. Gutknecht and M. Wibral, "Introducing a differentiable measure of
    pointwise shared information", Phys. Rev. E 103, 032149 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import RDN, XOR
    >>> sx_batched(np.stack([RDN, XOR]), ((0,), (1,))).round(6)
    array([ 1.      , -0.584963])
    """
    n_batch, n_y = stack.shape[0], stack.shape[-1]
    shape = stack.shape[1:-1]
    joint = stack.reshape(n_batch, math.prod(shape), n_y)
    match = _shared_events(shape, alpha)
    union_joint = np.einsum("cd,bdy->bcy", match, joint)  # P(U_i {A_i = a_i}, T = t)
    union = union_joint.sum(axis=2, keepdims=True)  # P(U_i {A_i = a_i})
    p_y = joint.sum(axis=1, keepdims=True)
    # On cells with p(s, t) > 0 both unions are >= p(s, t) > 0.
    pointwise = log2_or_zero(union_joint) - log2_or_zero(union * p_y)
    return (joint * np.where(joint > 0, pointwise, 0.0)).reshape(n_batch, -1).sum(axis=1)


def sx_redundancy(p: np.ndarray, alpha: Antichain) -> float:
    """I_sx(alpha) of one merged table, in bits; the one-table form of :func:`sx_batched`.

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
    >>> from synergy.testing import XOR
    >>> round(sx_redundancy(XOR, ((0,), (1,))), 6)  # log2(4/3) - 1: misinformative
    -0.584963
    """
    return float(sx_batched(np.asarray(p, dtype=np.float64)[np.newaxis], alpha)[0])


register_measure("sx", sx_redundancy, batched=sx_batched)
