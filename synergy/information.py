"""Shannon quantities on discrete probability tables: entropy, mutual information, KL.

Every function takes a joint table with one axis per variable (the target last, where a target
matters), optional leading batch axes (``batch_ndim``) and answers in bits unless ``base=``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import rel_entr

from synergy import _kernels
from synergy._validate import (
    InvalidDistributionError,
    as_table,
    check_base,
    check_disjoint,
    check_table_values,
    invalid,
    resolve_axes,
    resolve_target_sources,
    sum_tolerance,
)

__all__ = [
    "conditional_entropy",
    "conditional_mutual_information",
    "entropy",
    "kl_divergence",
    "mutual_information",
    "specific_information",
]

Axes = int | Sequence[int] | None


def as_result(values: np.ndarray, batch_ndim: int) -> float | np.ndarray:
    """A Python float for one table, an ndarray over the batch shape otherwise.

    The library's one result shaper: the measures of synergy.pid return through it too.
    """
    if batch_ndim == 0:
        return float(values)
    return np.asarray(values, dtype=np.float64)


def _marginal(arr: np.ndarray, batch_ndim: int, keep: tuple[int, ...]) -> np.ndarray:
    """Sum out every table axis not in ``keep`` (sorted table-axis indices)."""
    return _kernels.marginal(arr, batch_ndim, keep)


def entropy_bits(arr: np.ndarray, batch_ndim: int, axes: tuple[int, ...]) -> np.ndarray:
    """H of the marginal over ``axes`` in bits, shape ``arr.shape[:batch_ndim]``; no checks.

    The library's one entropy sum: every other quantity here is built from it. Small
    tables sum their marginal inside the kernel (numpy's reductions over a few cells per
    output cost ~10x the logs); large ones reduce with numpy, then take the logs. Either
    way one table gives the same bits alone as inside a batch.
    """
    batch_shape = arr.shape[:batch_ndim]
    n_tables = math.prod(batch_shape)
    if not axes or n_tables == 0:  # a batch of zero tables has zero entropies
        return np.zeros(batch_shape)
    table_shape = arr.shape[batch_ndim:]
    if math.prod(table_shape) <= _kernels.MARGINAL_KERNEL_MAX_CELLS:
        rows = np.ascontiguousarray(arr).reshape(n_tables, -1)
        return _kernels.marginal_neg_xlogx_rows(rows, table_shape, axes).reshape(batch_shape)
    m = np.ascontiguousarray(_marginal(arr, batch_ndim, axes))
    return _kernels.neg_xlogx_rows(m.reshape(n_tables, -1)).reshape(batch_shape)


def _prepare(
    p: Any, func: str, base: Any, batch_ndim: int, validate: bool
) -> tuple[np.ndarray, int, float]:
    # The kernels answer in bits; log2(base) is exactly 1.0 for base 2, so bits stay exact.
    log2_base = check_base(base, func) / math.log(2.0)
    arr = as_table(p, func=func, batch_ndim=batch_ndim, validate=validate)
    return arr, arr.ndim - batch_ndim, log2_base


def _group(
    axes: Axes, table_ndim: int, param: str, func: str, *, allow_empty: bool = False
) -> tuple[int, ...]:
    return resolve_axes(axes, table_ndim, param=param, func=func, allow_empty=allow_empty)


def entropy(
    p: Any,
    axes: Axes = None,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    r"""Shannon entropy of the marginal of ``p`` over ``axes``.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        Joint probability table (or a batch of them over the leading ``batch_ndim`` axes).
    axes : int or sequence of int, optional
        The variables whose joint entropy is wanted; table axes, negatives from the end.
        Default: every table axis.
    base : float, default 2
        Logarithm base: 2 gives bits, ``np.e`` nats.
    batch_ndim : int, default 0
        Number of leading batch axes.
    validate : bool, default True
        Check that ``p`` is a probability table. Switch off only in hot loops.

    Returns
    -------
    float or ndarray of shape batch
        H in the unit of ``base`` (bits by default).

    Raises
    ------
    InvalidDistributionError
        ``p`` is not a probability table (non-finite, negative, not summing to 1, empty).
    InvalidParameterError, InvalidTypeError
        ``axes``, ``base`` or ``batch_ndim`` are out of range or of the wrong type.

    Notes
    -----
    :math:`H(A) = -\sum_a p(a) \log p(a)` with :math:`0 \log 0 = 0`. The logarithm is
    fdlibm's (< 1 ulp), vectorised in a numba kernel and run on all cores.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy import entropy
    >>> entropy(np.full((2, 2), 0.25))
    2.0
    >>> entropy(np.full((2, 2), 0.25), axes=0)
    1.0
    """
    log2_base = check_base(base, "entropy") / math.log(2.0)
    # Whole large tables check their values inside the entropy's own pass over memory;
    # the full checks run only to word an error.
    fused = validate and axes is None
    arr = as_table(
        p, func="entropy", batch_ndim=batch_ndim, validate=validate, check_values=not fused
    )
    table_ndim = arr.ndim - batch_ndim
    if axes is None:
        group = tuple(range(table_ndim))
    else:
        group = _group(axes, table_ndim, "axes", "entropy")
    if arr.size == 0:  # a batch of zero tables: as_table refused empty table axes
        return as_result(entropy_bits(arr, batch_ndim, group), batch_ndim)
    if fused and math.prod(arr.shape[batch_ndim:]) > _kernels.MARGINAL_KERNEL_MAX_CELLS:
        batch_shape = arr.shape[:batch_ndim]
        n_tables = math.prod(batch_shape)
        h, sums, n_bad = _kernels.neg_xlogx_rows_checked(arr.reshape(n_tables, -1))
        if n_bad or (np.abs(sums - 1.0) > sum_tolerance(np.asarray(p).dtype)).any():
            as_table(p, func="entropy", batch_ndim=batch_ndim)  # raises, naming the problem
        return as_result(h.reshape(batch_shape) / log2_base, batch_ndim)
    if fused:  # small tables: the usual checks, on the array already converted
        tol = sum_tolerance(np.asarray(p).dtype)
        check_table_values(arr, tol, param="p", func="entropy", batch_ndim=batch_ndim)
    return as_result(entropy_bits(arr, batch_ndim, group) / log2_base, batch_ndim)


def conditional_entropy(
    p: Any,
    axes: Axes,
    given: Axes,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    r"""Conditional entropy H(A | C) of the variables ``axes`` given the variables ``given``.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        Joint probability table.
    axes : int or sequence of int
        The variables A.
    given : int or sequence of int
        The conditioning variables C, disjoint from A; an empty sequence gives H(A).
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    float or ndarray of shape batch
        H(A | C) in the unit of ``base``.

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when ``axes`` and ``given`` overlap.

    Notes
    -----
    :math:`H(A \mid C) = H(A, C) - H(C)`.

    Examples
    --------
    >>> from synergy import conditional_entropy
    >>> from synergy.testing import XOR
    >>> conditional_entropy(XOR, 2, [0, 1])
    0.0
    >>> conditional_entropy(XOR, 2, 0)
    1.0
    """
    func = "conditional_entropy"
    arr, table_ndim, log2_base = _prepare(p, func, base, batch_ndim, validate)
    a = _group(axes, table_ndim, "axes", func)
    c = _group(given, table_ndim, "given", func, allow_empty=True)
    check_disjoint([a, c], ["axes", "given"], func)
    joint = tuple(sorted(a + c))
    h = entropy_bits(arr, batch_ndim, joint) - entropy_bits(arr, batch_ndim, c)
    return as_result(h / log2_base, batch_ndim)


def _default_ab(a: Axes, b: Axes, table_ndim: int, func: str) -> tuple[tuple[int, ...], ...]:
    if table_ndim < 2 and (a is None or b is None):
        raise invalid(
            "p",
            func,
            "a table with at least two axes (sources first, target last)",
            f"a table with {table_ndim} axis",
            kind=InvalidDistributionError,
        )
    ga = tuple(range(table_ndim - 1)) if a is None else _group(a, table_ndim, "a", func)
    gb = (table_ndim - 1,) if b is None else _group(b, table_ndim, "b", func)
    check_disjoint([ga, gb], ["a", "b"], func)
    return ga, gb


def mutual_information(
    p: Any,
    a: Axes = None,
    b: Axes = None,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    r"""Mutual information I(A; B) between two disjoint groups of variables.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        Joint probability table, target last.
    a : int or sequence of int, optional
        The first group. Default: every table axis but the last.
    b : int or sequence of int, optional
        The second group. Default: the last table axis (the target).
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    float or ndarray of shape batch
        I(A; B) in the unit of ``base``. Rounding can leave it a few ulp below 0 for
        independent variables: the raw value is returned, not clipped.

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when ``a`` and ``b`` overlap.

    Notes
    -----
    :math:`I(A; B) = H(A) + H(B) - H(A, B) = D_{KL}[p(a, b) \,\|\, p(a) p(b)]`.

    Examples
    --------
    >>> from synergy import mutual_information
    >>> from synergy.testing import XOR
    >>> mutual_information(XOR)
    1.0
    >>> mutual_information(XOR, 0, 2)
    0.0
    """
    func = "mutual_information"
    arr, table_ndim, log2_base = _prepare(p, func, base, batch_ndim, validate)
    ga, gb = _default_ab(a, b, table_ndim, func)
    h = (
        entropy_bits(arr, batch_ndim, ga)
        + entropy_bits(arr, batch_ndim, gb)
        - entropy_bits(arr, batch_ndim, tuple(sorted(ga + gb)))
    )
    return as_result(h / log2_base, batch_ndim)


def conditional_mutual_information(
    p: Any,
    a: Axes,
    b: Axes,
    given: Axes,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    r"""Conditional mutual information I(A; B | C).

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        Joint probability table.
    a, b : int or sequence of int
        The two groups of variables.
    given : int or sequence of int
        The conditioning group C (may be empty: then this is I(A; B)). All three disjoint.
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    float or ndarray of shape batch
        I(A; B | C) in the unit of ``base`` (raw value, not clipped at 0).

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when the groups overlap.

    Notes
    -----
    :math:`I(A; B \mid C) = H(A, C) + H(B, C) - H(A, B, C) - H(C)`.

    Examples
    --------
    >>> from synergy import conditional_mutual_information
    >>> from synergy.testing import XOR
    >>> conditional_mutual_information(XOR, 0, 2, 1)
    1.0
    """
    func = "conditional_mutual_information"
    arr, table_ndim, log2_base = _prepare(p, func, base, batch_ndim, validate)
    ga = _group(a, table_ndim, "a", func)
    gb = _group(b, table_ndim, "b", func)
    gc = _group(given, table_ndim, "given", func, allow_empty=True)
    check_disjoint([ga, gb, gc], ["a", "b", "given"], func)
    h = (
        entropy_bits(arr, batch_ndim, tuple(sorted(ga + gc)))
        + entropy_bits(arr, batch_ndim, tuple(sorted(gb + gc)))
        - entropy_bits(arr, batch_ndim, tuple(sorted(ga + gb + gc)))
        - entropy_bits(arr, batch_ndim, gc)
    )
    return as_result(h / log2_base, batch_ndim)


def kl_divergence(
    p: Any,
    q: Any,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    r"""Kullback-Leibler divergence D_KL[p || q] between two tables of the same shape.

    Parameters
    ----------
    p, q : array_like of shape (*batch, n_1, ..., n_k)
        Probability tables of the same shape (batch axes included).
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    float or ndarray of shape batch
        D_KL in the unit of ``base``; ``inf`` where some cell has q = 0 < p.

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when the shapes differ.

    Notes
    -----
    :math:`D_{KL}[p \,\|\, q] = \sum_x p(x) \log (p(x) / q(x))`, with terms where
    p = 0 counting 0 (``scipy.special.rel_entr``).

    Examples
    --------
    >>> from synergy import kl_divergence
    >>> round(kl_divergence([0.5, 0.5], [0.25, 0.75]), 12)
    0.207518749639
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    inf
    """
    func = "kl_divergence"
    log_base = check_base(base, func)
    pa = as_table(p, param="p", func=func, batch_ndim=batch_ndim, validate=validate)
    qa = as_table(q, param="q", func=func, batch_ndim=batch_ndim, validate=validate)
    if pa.shape != qa.shape:
        raise invalid("q", func, f"an array of the same shape as `p`, {pa.shape}", f"{qa.shape}")
    table_axes = tuple(range(batch_ndim, pa.ndim))
    d = rel_entr(pa, qa).sum(axis=table_axes)
    return as_result(d / log_base, batch_ndim)


def specific_information(
    p: Any,
    a: Axes,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> np.ndarray:
    r"""Specific information I(Y=y; A) that the variables ``a`` carry about each target outcome.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table with the target Y on the last axis, unless ``target`` says
        otherwise.
    a : int or sequence of int
        The variables A (table axes, not the target's).
    target : int, keyword-only
        The target's axis, counted like ``a``: a table axis (the batch axes do not count),
        negatives from the end. Default -1, the last axis.
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    ndarray of shape (*batch, n_y)
        :math:`D_{KL}[P(A \mid y) \,\|\, P(A)]` per outcome y in the unit of ``base``;
        0 for outcomes with p(y) = 0 (they carry no weight in any average over y).

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when ``target`` is not a table axis or ``a`` contains
        it.

    Notes
    -----
    :math:`I(Y{=}y; A) = \sum_a p(a \mid y) \log \frac{p(a \mid y)}{p(a)}`, the
    specific information of DeWeese & Meister (1999) used by Williams & Beer's
    :math:`I_{min}` and Griffith & Koch's :math:`I_{max}`. Its p(y)-weighted mean is I(A; Y).

    Examples
    --------
    >>> from synergy import specific_information
    >>> from synergy.testing import AND
    >>> specific_information(AND, 0).round(6)
    array([0.081704, 1.      ])
    """
    func = "specific_information"
    arr, table_ndim, log2_base = _prepare(p, func, base, batch_ndim, validate)
    if table_ndim < 2:
        raise invalid(
            "p",
            func,
            "a table with at least one source axis and the target axis last",
            f"a table with {table_ndim} axis",
            kind=InvalidDistributionError,
        )
    axis, (ga,) = resolve_target_sources(
        [a], target, table_ndim, func=func, batch_ndim=batch_ndim, param="a"
    )
    if axis != table_ndim - 1:
        arr = np.moveaxis(arr, batch_ndim + axis, -1)
    return specific_information_nats(arr, batch_ndim, ga) / (log2_base * math.log(2.0))


def specific_information_nats(arr: np.ndarray, batch_ndim: int, a: tuple[int, ...]) -> np.ndarray:
    """I(Y=y; A) in nats for checked input, shape (*batch, n_y); 0 where p(y) = 0."""
    table_ndim = arr.ndim - batch_ndim
    target = table_ndim - 1
    joint = _marginal(arr, batch_ndim, (*a, target))  # (*batch, *A, n_y)
    batch_shape = arr.shape[:batch_ndim]
    n_y = arr.shape[-1]
    n_a = math.prod(joint.shape[batch_ndim:-1])
    rows = np.ascontiguousarray(joint, dtype=np.float64).reshape(math.prod(batch_shape), n_a, n_y)
    return _kernels.specific_information_rows(rows).reshape(*batch_shape, n_y)
