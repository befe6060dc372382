"""I_max and S_max (Griffith & Koch 2014): the whole beyond the best source at each outcome.

I_max is a union information; S_max = I(X;Y) - I_max upper-bounds S_VK.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from synergy.information import as_result
from synergy.pid._plumbing import (
    mutual_informations,
    prepare,
    specific_informations,
    target_marginal,
    union,
)

__all__ = ["i_max", "i_max_bits", "s_max"]


def i_max_bits(
    table: np.ndarray, batch_ndim: int, groups: tuple[tuple[int, ...], ...]
) -> np.ndarray:
    """sum_y p(y) max_i I(Y=y; A_i) in bits for checked input, shape batch."""
    spec = specific_informations(table, batch_ndim, groups)
    return np.einsum("...y,...y->...", target_marginal(table, batch_ndim), spec.max(axis=-2))


def i_max(
    p: ArrayLike,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    """I_max({A_i}; Y) = sum_y p(y) max_i I(Y=y; A_i), a union information.

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
        I_max in units of ``base``, between max_i I(A_i; Y) and I(X; Y).

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources``, ``target``, ``base`` or ``batch_ndim`` are invalid, or a source
        contains the target axis.

    Notes
    -----
    With the specific information I(Y=y; A) = D_KL[P(A|y) || P(A)],
    I_max({A_i}; Y) = sum_y p(y) max_i I(Y=y; A_i).

    References
    ----------
    V. Griffith and C. Koch, "Quantifying synergistic mutual information", in Guided
    Self-Organization: Inception, Springer (2014), arXiv:1205.4265.

    Examples
    --------
    >>> from synergy.testing import RDN as rdn
    >>> round(i_max(rdn), 12)
    1.0
    """
    table, groups, log2_base, batch_ndim = prepare(
        p,
        sources,
        func="i_max",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    return as_result(i_max_bits(table, batch_ndim, groups) / log2_base, batch_ndim)


def s_max(
    p: ArrayLike,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    """S_max({A_i}; Y) = I(X; Y) - I_max({A_i}; Y): synergy as the whole beyond the maximum.

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
        S_max in units of ``base``, in [max(0, WMS), I(X; Y)].

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources``, ``target``, ``base`` or ``batch_ndim`` are invalid, or a source
        contains the target axis.

    Notes
    -----
    S_max({A_i}; Y) = I(X; Y) - sum_y p(y) max_i D_KL[P(A_i|y) || P(A_i)], with
    X = (A_1, ..., A_k). It upper-bounds the whole-minus-union synergy S_VK, and equals the
    sum of the Williams-Beer I_min atoms that lie below no single source.

    References
    ----------
    V. Griffith and C. Koch, "Quantifying synergistic mutual information", in Guided
    Self-Organization: Inception, Springer (2014), arXiv:1205.4265.

    Examples
    --------
    >>> from synergy.testing import AND, XOR as xor
    >>> round(s_max(xor), 12)
    1.0

    A table whose target is its first axis says so with ``target``:

    >>> import numpy as np
    >>> round(s_max(np.moveaxis(AND, -1, 0), target=0), 12)  # = s_max(AND)
    0.5
    """
    table, groups, log2_base, batch_ndim = prepare(
        p,
        sources,
        func="s_max",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    (whole,) = mutual_informations(table, batch_ndim, (union(groups),))
    return as_result((whole - i_max_bits(table, batch_ndim, groups)) / log2_base, batch_ndim)
