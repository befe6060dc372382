"""I_ccs: common change in surprisal (Ince 2017).

Redundancy is the pointwise co-information, under the maximum-entropy table that keeps the
sources' joint and each source-target pair, averaged where every sign agrees.
"""

from __future__ import annotations

import itertools

import numpy as np

from synergy.pid.lattice import Antichain
from synergy.pid.measures._common import log2_or_zero
from synergy.pid.measures._maxent import MAX_ITERATIONS, TOLERANCE, maxent_fit
from synergy.pid.registry import register_measure

__all__ = ["SIGN_TOLERANCE", "ccs_batched", "ccs_from_fit", "ccs_redundancy"]

#: Pointwise values within this many bits of 0 count as 0 when signs are compared (as
#: dit's ``np.isclose(value, 0)`` does): a fit's rounding must not flip a sign.
SIGN_TOLERANCE = 1e-8


def _restrict(stack: np.ndarray, alpha: Antichain) -> tuple[np.ndarray, Antichain]:
    """The table on the sources alpha mentions, with alpha renumbered to its axes."""
    used = sorted({s for element in alpha for s in element})
    drop = tuple(i + 1 for i in range(stack.ndim - 2) if i not in used)
    table = stack.sum(axis=drop) if drop else stack
    position = {s: i for i, s in enumerate(used)}
    return table, tuple(tuple(position[s] for s in element) for element in alpha)


def _log_marginal(q: np.ndarray, axes: set[int]) -> np.ndarray:
    drop = tuple(a for a in range(1, q.ndim) if a not in axes)
    return np.broadcast_to(log2_or_zero(q.sum(axis=drop, keepdims=True) if drop else q), q.shape)


def _signs(values: np.ndarray) -> np.ndarray:
    return np.where(np.abs(values) <= SIGN_TOLERANCE, 0.0, np.sign(values))


def ccs_from_fit(q: np.ndarray, alpha: Antichain) -> np.ndarray:
    """I_ccs(alpha) in bits from maximum-entropy tables already fitted.

    Parameters
    ----------
    q : ndarray of shape (B, n_1, ..., n_m, n_y)
        The maximum-entropy tables over the sources that ``alpha`` mentions (numbered
        0..m-1), target last.
    alpha : tuple of tuple of int
        The antichain, in the numbering of ``q``'s axes.

    Returns
    -------
    ndarray of shape (B,)
        sum over cells of q * c where c, the pointwise co-information of the elements and
        the target, has the sign of every pointwise I(a_i; y) and of the joint one.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import RDN
    >>> ccs_from_fit(RDN[np.newaxis], ((0,), (1,)))  # RDN is its own maximum-entropy fit
    array([1.])
    """
    target = q.ndim - 1
    variables = [{a + 1 for a in element} for element in alpha] + [{target}]
    coinformation = np.zeros(q.shape)
    for size in range(1, len(variables) + 1):
        for chosen in itertools.combinations(variables, size):
            axes = set().union(*chosen)
            coinformation += (-1.0) ** size * _log_marginal(q, axes)
    log_y = _log_marginal(q, {target})
    agree = q > 0
    sign = _signs(coinformation)
    for element in variables[:-1]:
        pmi = _log_marginal(q, element | {target}) - _log_marginal(q, element) - log_y
        agree &= _signs(pmi) == sign
    sources = set().union(*variables[:-1])
    joint = _log_marginal(q, sources | {target}) - _log_marginal(q, sources) - log_y
    agree &= _signs(joint) == sign
    return (q * np.where(agree, coinformation, 0.0)).reshape(q.shape[0], -1).sum(axis=1)


def ccs_batched(
    stack: np.ndarray,
    alpha: Antichain,
    *,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
) -> np.ndarray:
    """I_ccs(alpha) in bits for a stack of tables.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, ..., n_k, n_y)
        Merged tables, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices; each element stands for the union of its sources.
    tol : float, keyword-only
        Marginal residual at which the maximum-entropy fit stops.
    max_iter : int, keyword-only
        Most Newton steps of the fit.

    Returns
    -------
    ndarray of shape (B,)
        The redundancy in bits.

    Warns
    -----
    SynergyConvergenceWarning
        If the maximum-entropy fit misses ``tol`` within ``max_iter`` Newton steps.

    Notes
    -----
    With q the maximum-entropy table on (A_1, ..., A_m, Y) keeping p(a_1, ..., a_m) and
    every p(a_i, y), c(a, y) the pointwise co-information of A_1, ..., A_m, Y under q,
    I_ccs = sum q(a, y) c(a, y) over the cells where c, every pointwise i(a_i; y) and
    i(a; y) share one sign (Ince 2017, eq. 23, as dit 2.3 computes it; values within
    :data:`SIGN_TOLERANCE` bits of 0 count as 0).

    The fit is exact up to ``tol``: cells the constraints force to zero are found first by
    a linear programme, then damped Newton steps on the dual of the maximum-entropy
    programme converge quadratically, also on tables with cells near zero (checked against
    an independent fit by scipy to 1e-9 bits). dit 2.3 fits with a general optimiser whose
    marginals can miss the constraints by 1e-5; on such tables its I_ccs differs from this
    one by up to about 1e-4 bits, and the tests show that the difference is dit's fit.

    References
    ----------
    R. A. A. Ince, "Measuring multivariate redundant information with pointwise common
    change in surprisal", Entropy 19(7), 318 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import AND, XOR
    >>> ccs_batched(np.stack([AND, XOR]), ((0,), (1,))).round(4)  # AND: Ince (2017)
    array([0.1038, 0.    ])
    """
    table, renumbered = _restrict(stack, alpha)
    q = maxent_fit(table, renumbered, tol=tol, max_iter=max_iter, caller="ccs_batched")
    return ccs_from_fit(q, renumbered)


def ccs_redundancy(
    p: np.ndarray,
    alpha: Antichain,
    *,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
) -> float:
    """I_ccs(alpha) in bits for one merged table; see :func:`ccs_batched`.

    Parameters
    ----------
    p : ndarray of shape (n_1, ..., n_k, n_y)
        One merged table, one axis per source, target last.
    alpha : tuple of tuple of int
        An antichain of source indices.
    tol : float, keyword-only
        Marginal residual at which the maximum-entropy fit stops.
    max_iter : int, keyword-only
        Most Newton steps of the fit.

    Returns
    -------
    float
        The redundancy in bits.

    Examples
    --------
    >>> from synergy.testing import GATES
    >>> round(ccs_redundancy(GATES["COPY"].table, ((0,), (1,))), 12)  # identity axiom
    0.0
    """
    stack = np.asarray(p, dtype=np.float64)[np.newaxis]
    return float(ccs_batched(stack, alpha, tol=tol, max_iter=max_iter)[0])


register_measure("ccs", ccs_redundancy, batched=ccs_batched)
