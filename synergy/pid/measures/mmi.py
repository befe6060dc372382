"""I_mmi: the minimum mutual information any element of an antichain has with the target.

Barrett (2015); exact for jointly Gaussian variables, a closed form on discrete tables.
"""

from __future__ import annotations

import numpy as np

from synergy.pid.lattice import Antichain
from synergy.pid.measures._common import joint_with_target, mutual_information_bits
from synergy.pid.registry import register_measure

__all__ = ["mmi_batched", "mmi_redundancy"]


def mmi_batched(stack: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_mmi(alpha) = min over A in alpha of I(A; Y), in bits, for a stack of tables.

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

    References
    ----------
    A. B. Barrett, "Exploration of synergistic and redundant information sharing in static
    and dynamical Gaussian systems", Phys. Rev. E 91, 052802 (2015).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import AND, XOR
    >>> mmi_batched(np.stack([AND, XOR]), ((0,), (1,))).round(6)
    array([0.311278, 0.      ])
    """
    informations = [mutual_information_bits(joint_with_target(stack, a)) for a in alpha]
    return np.min(np.stack(informations), axis=0)


def mmi_redundancy(p: np.ndarray, alpha: Antichain) -> float:
    """I_mmi(alpha) of one merged table, in bits; the one-table form of :func:`mmi_batched`.

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
    >>> round(mmi_redundancy(AND, ((0,), (1,))), 6)  # I(X1; Y) of AND, by hand
    0.311278
    """
    return float(mmi_batched(np.asarray(p, dtype=np.float64)[np.newaxis], alpha)[0])


register_measure("mmi", mmi_redundancy, batched=mmi_batched)
