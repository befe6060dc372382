"""Whole-minus-sum synergy: I(X;Y) minus the sum of what each source says alone.

A closed form over one table or a batch of tables; negative when sources are redundant.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from synergy.information import as_result
from synergy.pid._plumbing import mutual_informations, prepare, union

__all__ = ["wms"]


def wms(
    p: ArrayLike,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    """Whole-minus-sum synergy WMS({A_i}; Y) = I(X; Y) - sum_i I(A_i; Y).

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise; the
        leading ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        Source groups A_i as table axes; a group of several axes acts as one variable.
        Default: each axis but the target on its own. X is the union of the groups; axes in
        no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` is a probability table (turn off in hot loops).

    Returns
    -------
    float or ndarray of shape batch
        WMS in units of ``base``; may be negative (net redundancy).

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources``, ``target``, ``base`` or ``batch_ndim`` are invalid, or a source
        contains the target axis.

    Notes
    -----
    WMS({A_i}; Y) = I(X; Y) - sum_i I(A_i; Y), with X = (A_1, ..., A_k). It counts
    redundant information once per source that carries it, so it lower-bounds synergy
    only as max(0, WMS) <= S_VK <= S_max.

    References
    ----------
    E. Schneidman, W. Bialek, M. J. Berry, "Synergy, redundancy, and independence in
    population codes", J. Neurosci. 23 (2003). V. Griffith and C. Koch, "Quantifying
    synergistic mutual information", in Guided Self-Organization: Inception (2014).

    Examples
    --------
    >>> from synergy.testing import RDN as rdn, XOR as xor
    >>> round(wms(xor), 12)
    1.0
    >>> round(wms(rdn), 12)
    -1.0
    """
    table, groups, log2_base, batch_ndim = prepare(
        p,
        sources,
        func="wms",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    whole, *parts = mutual_informations(table, batch_ndim, (union(groups), *groups))
    return as_result((whole - sum(parts)) / log2_base, batch_ndim)
