"""Entropy, mutual information and conditional mutual information of tables held in tensors.

The numpy functions of synergy.information, written in torch ops so that autograd
differentiates them; all are sums of the one entropy sum, ``entropy_nats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synergy._validate import (
    InvalidDistributionError,
    check_base,
    check_disjoint,
    invalid,
    resolve_axes,
)
from synergy.torch._tensor import Tensor, as_table_tensor, entropy_nats

__all__ = ["conditional_mutual_information", "entropy", "mutual_information"]

Axes = int | Sequence[int] | None


def _group(
    axes: Any, table_ndim: int, param: str, func: str, *, allow_empty: bool = False
) -> tuple[int, ...]:
    return resolve_axes(axes, table_ndim, param=param, func=func, allow_empty=allow_empty)


def entropy(
    p: Tensor,
    axes: Axes = None,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    r"""Shannon entropy of the marginal of ``p`` over ``axes``, differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k)
        Joint probability table (or a batch of them over the leading ``batch_ndim`` axes),
        floating point, on any device.
    axes : int or sequence of int, optional
        The variables whose joint entropy is wanted; table axes, negatives from the end.
        Default: every table axis.
    base : float, default 2
        Logarithm base: 2 gives bits, ``math.e`` nats.
    batch_ndim : int, default 0
        Number of leading batch axes.
    validate : bool, default True
        Check that ``p`` holds probability tables (one device sync). Switch off only in
        hot loops.

    Returns
    -------
    Tensor of shape batch
        H in the unit of ``base`` (bits by default), on the device and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError
        ``p`` is not a probability table (non-finite, negative, not summing to 1, empty).
    InvalidParameterError, InvalidTypeError
        ``p`` is not a floating-point tensor, or ``axes``, ``base`` or ``batch_ndim`` are
        out of range or of the wrong type.

    See Also
    --------
    synergy.entropy : The numpy function, same arguments.

    Notes
    -----
    :math:`H(A) = -\sum_a p(a) \log p(a)` with :math:`0 \log 0 = 0`. At a cell where the
    marginal p(a) is 0 the gradient of its term is taken as 0 (the package docstring says
    why).

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import entropy
    >>> p = torch.full((2, 2), 0.25, dtype=torch.float64, requires_grad=True)
    >>> h = entropy(p)
    >>> h.item()
    2.0
    >>> h.backward()
    >>> round(p.grad[0, 0].item(), 6)  # -(log2 p + 1 / ln 2) at p = 1/4
    0.557305
    >>> entropy(p, axes=0).item()
    1.0
    """
    func = "entropy"
    log_base = check_base(base, func)
    p, batch_ndim = as_table_tensor(p, func=func, batch_ndim=batch_ndim, validate=validate)
    table_ndim = p.ndim - batch_ndim
    group = tuple(range(table_ndim)) if axes is None else _group(axes, table_ndim, "axes", func)
    return entropy_nats(p, batch_ndim, group) / log_base


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


def mutual_information_nats(
    p: Tensor, batch_ndim: int, a: tuple[int, ...], b: tuple[int, ...]
) -> Tensor:
    """I(A; B) in nats for checked input: H(A) + H(B) - H(A, B), shape batch."""
    return (
        entropy_nats(p, batch_ndim, a)
        + entropy_nats(p, batch_ndim, b)
        - entropy_nats(p, batch_ndim, tuple(sorted(a + b)))
    )


def mutual_information(
    p: Tensor,
    a: Axes = None,
    b: Axes = None,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    r"""Mutual information I(A; B) between two disjoint groups of variables, differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k)
        Joint probability table, target last, floating point, on any device.
    a : int or sequence of int, optional
        The first group. Default: every table axis but the last.
    b : int or sequence of int, optional
        The second group. Default: the last table axis (the target).
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    Tensor of shape batch
        I(A; B) in the unit of ``base``, on the device and dtype of ``p``. Rounding can
        leave it a few ulp below 0 for independent variables: the raw value is returned.

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when ``a`` and ``b`` overlap.

    See Also
    --------
    synergy.mutual_information : The numpy function, same arguments.

    Notes
    -----
    :math:`I(A; B) = H(A) + H(B) - H(A, B)`, each entropy with the zero-cell rule of
    :func:`entropy`.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import mutual_information
    >>> from synergy.testing import XOR
    >>> round(mutual_information(torch.tensor(XOR)).item(), 12)
    1.0
    >>> round(mutual_information(torch.tensor(XOR), 0, 2).item(), 12)
    0.0
    """
    func = "mutual_information"
    log_base = check_base(base, func)
    p, batch_ndim = as_table_tensor(p, func=func, batch_ndim=batch_ndim, validate=validate)
    ga, gb = _default_ab(a, b, p.ndim - batch_ndim, func)
    return mutual_information_nats(p, batch_ndim, ga, gb) / log_base


def conditional_mutual_information(
    p: Tensor,
    a: Axes,
    b: Axes,
    given: Axes,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    r"""Conditional mutual information I(A; B | C), differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k)
        Joint probability table, floating point, on any device.
    a, b : int or sequence of int
        The two groups of variables.
    given : int or sequence of int
        The conditioning group C (may be empty: then this is I(A; B)). All three disjoint.
    base, batch_ndim, validate
        As in :func:`entropy`.

    Returns
    -------
    Tensor of shape batch
        I(A; B | C) in the unit of ``base`` (raw value, not clipped at 0), on the device
        and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError, InvalidParameterError, InvalidTypeError
        As in :func:`entropy`; also when the groups overlap.

    See Also
    --------
    synergy.conditional_mutual_information : The numpy function, same arguments.

    Notes
    -----
    :math:`I(A; B \mid C) = H(A, C) + H(B, C) - H(A, B, C) - H(C)`.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import conditional_mutual_information
    >>> from synergy.testing import XOR
    >>> round(conditional_mutual_information(torch.tensor(XOR), 0, 2, 1).item(), 12)
    1.0
    """
    func = "conditional_mutual_information"
    log_base = check_base(base, func)
    p, batch_ndim = as_table_tensor(p, func=func, batch_ndim=batch_ndim, validate=validate)
    table_ndim = p.ndim - batch_ndim
    ga = _group(a, table_ndim, "a", func)
    gb = _group(b, table_ndim, "b", func)
    gc = _group(given, table_ndim, "given", func, allow_empty=True)
    check_disjoint([ga, gb, gc], ["a", "b", "given"], func)
    h = (
        entropy_nats(p, batch_ndim, tuple(sorted(ga + gc)))
        + entropy_nats(p, batch_ndim, tuple(sorted(gb + gc)))
        - entropy_nats(p, batch_ndim, tuple(sorted(ga + gb + gc)))
        - entropy_nats(p, batch_ndim, gc)
    )
    return h / log_base
