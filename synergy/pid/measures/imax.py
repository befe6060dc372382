"""I_max as a union information: the two-source decomposition Griffith & Koch's I_max induces.

Registered with its own decomposition, since I_max fixes the union, not the redundancy.
"""

from __future__ import annotations

import numpy as np

from synergy.pid._plumbing import mutual_informations, specific_informations, target_marginal
from synergy.pid.imax import i_max_bits
from synergy.pid.measures._common import two_source_atoms
from synergy.pid.registry import register_decomposition

__all__ = ["imax_batched", "single_informations"]

_SOURCES = ((0,), (1,))


def single_informations(stack: np.ndarray) -> np.ndarray:
    """I(X_i; Y) in bits of each source, as the p(y)-mean of the specific information.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.

    Returns
    -------
    ndarray of shape (B, k)
        I(X_i; Y) in bits, one column per source.

    Examples
    --------
    >>> from synergy.testing import AND
    >>> single_informations(AND[None]).round(6)
    array([[0.311278, 0.311278]])
    """
    sources = tuple((i,) for i in range(stack.ndim - 2))
    spec = specific_informations(stack, 1, sources)
    return np.einsum("bsy,by->bs", spec, target_marginal(stack, 1))


def imax_batched(stack: np.ndarray) -> np.ndarray:
    """The two-source atoms induced by I_max as the union information, in bits.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, n_2, n_y)
        Merged tables, source 1, source 2, target last.

    Returns
    -------
    ndarray of shape (B, 4)
        The atoms in the order of ``redundancy_lattice(2).nodes``: redundancy {0}{1},
        unique {0}, unique {1}, synergy {0,1}.

    Notes
    -----
    I_cup = I_max = sum_y p(y) max_i I(Y=y; X_i); synergy = I(X; Y) - I_max,
    redundancy = I(X_1; Y) + I(X_2; Y) - I_max, unique_i = I(X_i; Y) - redundancy. Since
    min + max = sum at each y, this equals the two-source I_min decomposition.

    References
    ----------
    V. Griffith and C. Koch, "Quantifying synergistic mutual information", in Guided
    Self-Organization: Inception, Springer (2014), arXiv:1205.4265.

    Examples
    --------
    >>> from synergy.testing import XOR
    >>> imax_batched(XOR[None])
    array([[0., 0., 0., 1.]])
    """
    single = single_informations(stack)
    i_cup = i_max_bits(stack, 1, _SOURCES)
    (whole,) = mutual_informations(stack, 1, ((0, 1),))
    shared = single[:, 0] + single[:, 1] - i_cup
    return two_source_atoms(shared, single[:, 0] - shared, single[:, 1] - shared, whole - i_cup)


register_decomposition("imax", imax_batched, max_sources=2)
