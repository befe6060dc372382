"""Miller-Madow term algebra: a measure as a signed sum of marginal entropies.

Miller-Madow corrects each entropy of the sum, so the terms say where its correction goes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synergy import _kernels
from synergy._validate import invalid, resolve_axes, resolve_sources

Terms = tuple[tuple[float, tuple[int, ...]], ...]


def _mi_terms(a: tuple[int, ...], b: tuple[int, ...], coef: float = 1.0) -> Terms:
    return ((coef, a), (coef, b), (-coef, tuple(sorted(a + b))))


def _kwarg_axes(kwargs: dict[str, Any], key: str, ndim: int, func: str) -> tuple[int, ...]:
    if key not in kwargs:
        raise invalid(
            key,
            func,
            f"given as a keyword argument (table axes, one per sample column) for "
            f"measure {func!r}",
            "nothing",
        )
    return resolve_axes(kwargs[key], ndim, param=key, func=func, allow_empty=key == "given")


def _entropy_terms(name: str, ndim: int, kwargs: dict[str, Any]) -> Terms | None:
    """The measure as a signed sum of marginal entropies, or None if it is not one.

    Miller-Madow corrects each entropy in the sum; this is how it reaches the MIs and WMS.
    """
    target = (ndim - 1,)
    everything = tuple(range(ndim))
    if name == "entropy":
        axes = kwargs.get("axes")
        return ((1.0, everything if axes is None else _kwarg_axes(kwargs, "axes", ndim, name)),)
    if name == "conditional_entropy":
        a = _kwarg_axes(kwargs, "axes", ndim, name)
        c = _kwarg_axes(kwargs, "given", ndim, name)
        return ((1.0, tuple(sorted(a + c))), (-1.0, c))
    if name == "mutual_information":
        ga = everything[:-1] if kwargs.get("a") is None else _kwarg_axes(kwargs, "a", ndim, name)
        gb = target if kwargs.get("b") is None else _kwarg_axes(kwargs, "b", ndim, name)
        return _mi_terms(ga, gb)
    if name == "conditional_mutual_information":
        a = _kwarg_axes(kwargs, "a", ndim, name)
        b = _kwarg_axes(kwargs, "b", ndim, name)
        c = _kwarg_axes(kwargs, "given", ndim, name)
        return (
            (1.0, tuple(sorted(a + c))),
            (1.0, tuple(sorted(b + c))),
            (-1.0, tuple(sorted(a + b + c))),
            (-1.0, c),
        )
    if name == "wms":
        groups = resolve_sources(kwargs.get("sources"), ndim, func=name)
        whole = tuple(sorted({a for g in groups for a in g}))
        terms = list(_mi_terms(whole, target))
        for g in groups:
            terms += _mi_terms(g, target, -1.0)
        return tuple(terms)
    return None


def _miller_madow_term(
    terms: Terms, counts: np.ndarray, n_total: int, log_base: float
) -> np.ndarray:
    """sum_k c_k (m_k - 1) / (2 N) per table of a stack of count tables, in log base units.

    ``counts`` has shape (B, *table_shape); m_k is the number of occupied cells of the
    marginal on the axes of term k, c_k its coefficient, N = ``n_total``.
    """
    out = np.zeros(counts.shape[0])
    for coef, axes in terms:
        if not axes:
            continue  # H of nothing is 0 with one cell: no correction
        marg = _kernels.marginal(counts, 1, axes)
        cells = np.count_nonzero(marg.reshape(counts.shape[0], -1), axis=1)
        out += coef * (cells - 1)
    return out / (2.0 * n_total * log_base)
