"""I_dep: unique information from the dependency-constraint lattice (James et al. 2018).

Two sources; the measure defines unique information, so it registers its own decomposition.
"""

from __future__ import annotations

import numpy as np

from synergy.pid.measures._common import mutual_information_bits
from synergy.pid.measures._maxent import MAX_ITERATIONS, TOLERANCE, maxent_fit
from synergy.pid.registry import register_decomposition

__all__ = ["dep_batched"]


def _information(q: np.ndarray) -> np.ndarray:
    """I(X_1 X_2; Y) in bits of (B, n_1, n_2, n_y) tables."""
    return mutual_information_bits(q.reshape(q.shape[0], -1, q.shape[-1]))


def dep_batched(
    stack: np.ndarray, *, tol: float = TOLERANCE, max_iter: int = MAX_ITERATIONS
) -> np.ndarray:
    """The I_dep atoms of two-source tables, in bits.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, n_2, n_y)
        Merged tables, source 1, source 2, target last.
    tol : float, keyword-only
        Marginal residual at which the maximum-entropy fit of {X1 Y}{X2 Y}{X1 X2} stops.
    max_iter : int, keyword-only
        Most Newton steps of that fit.

    Returns
    -------
    ndarray of shape (B, 4)
        The atoms in the order of ``redundancy_lattice(2).nodes``: redundancy {0}{1},
        unique {0}, unique {1}, synergy {0,1}.

    Warns
    -----
    SynergyConvergenceWarning
        If the maximum-entropy fit misses ``tol`` within ``max_iter`` Newton steps.

    Notes
    -----
    Each node of the constraint lattice of (X1, X2, Y) is the maximum-entropy table keeping
    some marginals. U_1 is the least increase of I(X1 X2; Y) when the constraint {X1 Y} is
    added to a node that lacks it; the four such edges give
    U_1 = min(I(X1; Y), I_{13,23}(X1 X2; Y) - I(X2; Y), I_{12,13,23}(X1 X2; Y) - I(X2; Y))
    (the edges {13}{2} - {1}{2}{3} and {12}{13} - {12}{3} both give I(X1; Y)). Then
    redundancy = I(X1; Y) - U_1, and synergy is the rest of I(X1 X2; Y).
    I_{13,23} keeps p(x1, y) and p(x2, y): q = p(y) p(x1|y) p(x2|y); I_{12,13,23} keeps all
    three pairs and is fitted by Newton's method on the dual (exact up to ``tol``; see
    :mod:`.ccs` on how dit's own fit, and so its values, can differ by up to about 1e-4
    bits).

    James et al. define I_dep for two sources, and this module registers only that. dit 2.3
    accepts three sources in ``PID_dep`` but does not define the decomposition: it computes
    the three unique atoms, each the two-source I_dep of one source against the other two
    merged, takes the redundancy of each two-element node from the two-source I_dep of its
    two elements, and infers the rest of the lattice by shortcuts that close it only on
    special tables (three-input XOR, RDN, copies); on the three-input AND and on generic
    tables 15 of its 18 atoms are NaN (``tests/test_dep_three.py``).

    References
    ----------
    R. G. James, J. Emenheiser and J. P. Crutchfield, "Unique information via dependency
    constraints", J. Phys. A 52, 014002 (2019), arXiv:1709.06653.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import AND, UNQ
    >>> dep_batched(np.stack([AND, UNQ])).round(4)  # AND: James et al. (2018)
    array([[0.0817, 0.2296, 0.2296, 0.2704],
           [0.    , 1.    , 0.    , 0.    ]])
    """
    p_1y = stack.sum(axis=2)
    p_2y = stack.sum(axis=1)
    p_y = p_1y.sum(axis=1)
    i_1 = mutual_information_bits(p_1y)
    i_2 = mutual_information_bits(p_2y)
    inverse_y = np.divide(1.0, p_y, out=np.zeros_like(p_y), where=p_y > 0)
    conditional = p_1y[:, :, None, :] * p_2y[:, None, :, :] * inverse_y[:, None, None, :]
    i_targets = _information(conditional)
    pairs = maxent_fit(stack, ((0,), (1,)), tol=tol, max_iter=max_iter, caller="dep_batched")
    i_pairs = _information(pairs)
    whole = _information(stack)
    unique_1 = np.minimum(i_1, np.minimum(i_targets - i_2, i_pairs - i_2))
    unique_2 = np.minimum(i_2, np.minimum(i_targets - i_1, i_pairs - i_1))
    shared = i_1 - unique_1
    synergy = whole - shared - unique_1 - unique_2
    return np.stack([shared, unique_1, unique_2, synergy], axis=1)


register_decomposition("dep", dep_batched, max_sources=2)
