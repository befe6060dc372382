"""WMS, I_max, S_max and I_min on tensors: the closed-form measures, differentiable.

Each is a sum over target outcomes of weighted specific informations p(y) I(Y=y; A_i),
built here once; ``prepare`` checks a measure's arguments as synergy.pid does.
"""

from __future__ import annotations

import math

from synergy._validate import (
    InvalidDistributionError,
    check_base,
    invalid,
    resolve_target_sources,
)
from synergy.torch._information import mutual_information_nats
from synergy.torch._tensor import Tensor, as_table_tensor, marginal, neg_xlogx, torch

__all__ = [
    "i_max",
    "i_max_nats",
    "i_min",
    "prepare",
    "s_max",
    "union",
    "weighted_specific_informations",
    "wms",
]

Groups = tuple[tuple[int, ...], ...]


def prepare(
    p: object,
    sources: object,
    *,
    func: str,
    base: float,
    batch_ndim: int,
    validate: bool,
    min_sources: int = 1,
    target: object = -1,
) -> tuple[Tensor, Groups, float, int]:
    """Check a measure's arguments: (table, source groups, log(base), batch_ndim).

    As synergy.pid's: the table comes back with its ``target`` axis last (a view) and the
    groups renumbered to match.
    """
    log_base = check_base(base, func)
    table, batch_ndim = as_table_tensor(
        p, func=func, batch_ndim=batch_ndim, validate=validate, min_table_ndim=2
    )
    table_ndim = table.ndim - batch_ndim
    if table_ndim < 2:
        raise invalid(
            "p",
            func,
            "a table with at least one source axis and the target axis last",
            f"an array of shape {tuple(table.shape)} with batch_ndim={batch_ndim}",
            kind=InvalidDistributionError,
        )
    axis, groups = resolve_target_sources(
        sources, target, table_ndim, func=func, batch_ndim=batch_ndim, min_sources=min_sources
    )
    if axis != table_ndim - 1:
        table = torch.movedim(table, batch_ndim + axis, -1)
    return table, groups, log_base, batch_ndim


def union(groups: Groups) -> tuple[int, ...]:
    """The axes of X, the union of the source groups, sorted."""
    return tuple(sorted({a for g in groups for a in g}))


def _joint_with_target(table: Tensor, batch_ndim: int, group: tuple[int, ...]) -> Tensor:
    """P(A, Y) with the axes of ``group`` merged into one, shape (*batch, n_A, n_y)."""
    target = table.ndim - batch_ndim - 1
    joint = marginal(table, batch_ndim, (*group, target))
    # n_A spelled out: -1 is ambiguous for a batch of zero tables.
    n_a = math.prod(table.shape[batch_ndim + a] for a in group)
    return joint.reshape(*table.shape[:batch_ndim], n_a, table.shape[-1])


def weighted_specific_informations(table: Tensor, batch_ndim: int, groups: Groups) -> Tensor:
    """p(y) I(Y=y; A_i) in nats for every group A_i, shape (*batch, k, n_y).

    p(y) I(Y=y; A) = sum_a p(a, y) log p(a, y) - sum_a p(a, y) log p(a) - p(y) log p(y):
    no division by p(y), so outcomes with p(y) = 0 give 0 with a finite gradient, and
    p(y) max_i I(Y=y; A_i) = max_i p(y) I(Y=y; A_i) since p(y) >= 0.
    """
    p_y = marginal(table, batch_ndim, (table.ndim - batch_ndim - 1,))
    out = []
    for g in groups:
        joint = _joint_with_target(table, batch_ndim, g)  # (*batch, n_a, n_y)
        p_a = joint.sum(dim=-1, keepdim=True)
        # p(a) = 0 forces p(a, y) = 0: the term is 0, and the double where keeps log(0)
        # out of both the value and the gradient.
        positive = p_a > 0
        log_p_a = torch.where(positive, torch.log(torch.where(positive, p_a, 1.0)), 0.0)
        cross = (joint * log_p_a).sum(dim=-2)
        out.append(neg_xlogx(p_y) - neg_xlogx(joint).sum(dim=-2) - cross)
    return torch.stack(out, dim=-2)


def _mi_whole(table: Tensor, batch_ndim: int, groups: Groups) -> Tensor:
    target = (table.ndim - batch_ndim - 1,)
    return mutual_information_nats(table, batch_ndim, union(groups), target)


def wms(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """Whole-minus-sum synergy WMS({A_i}; Y) = I(X; Y) - sum_i I(A_i; Y), differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
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
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        WMS in units of ``base``, on the device and dtype of ``p``; negative when the
        sources are redundant.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources``, ``target``, ``base`` or
        ``batch_ndim`` are invalid, or a source contains the target axis.

    See Also
    --------
    synergy.pid.wms : The numpy function, same arguments.

    Notes
    -----
    A sum of entropies, smooth wherever every marginal is positive; zero cells follow
    the rule of :func:`synergy.torch.entropy`.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import wms
    >>> from synergy.testing import RDN, XOR
    >>> round(wms(torch.tensor(XOR)).item(), 12)
    1.0
    >>> round(wms(torch.tensor(RDN)).item(), 12)
    -1.0
    """
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func="wms",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    last = (table.ndim - batch_ndim - 1,)
    parts = sum(mutual_information_nats(table, batch_ndim, g, last) for g in groups)
    return (_mi_whole(table, batch_ndim, groups) - parts) / log_base


def i_max_nats(table: Tensor, batch_ndim: int, groups: Groups) -> Tensor:
    """I_max in nats for checked input, shape batch."""
    spec = weighted_specific_informations(table, batch_ndim, groups)
    return spec.amax(dim=-2).sum(dim=-1)


def i_max(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """I_max({A_i}; Y) = sum_y p(y) max_i I(Y=y; A_i), a union information, differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
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
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        I_max in units of ``base``, on the device and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources``, ``target``, ``base`` or
        ``batch_ndim`` are invalid, or a source contains the target axis.

    See Also
    --------
    synergy.pid.i_max : The numpy function, same arguments.

    Notes
    -----
    Computed as sum_y max_i [p(y) I(Y=y; A_i)]. Where one source gives the largest
    specific information at every outcome, the gradient is that of the active branch,
    sum over y of p(y) I(Y=y; A_best(y)). Where several sources tie for the maximum at
    an outcome, the gradient is the mean of the tied branches' gradients (that of
    ``torch.amax``): an element of the Clarke subdifferential, and symmetric when the
    tied sources are exchangeable.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import i_max
    >>> from synergy.testing import RDN
    >>> round(i_max(torch.tensor(RDN)).item(), 12)
    1.0
    """
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func="i_max",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    return i_max_nats(table, batch_ndim, groups) / log_base


def s_max(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """S_max({A_i}; Y) = I(X; Y) - I_max({A_i}; Y), differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
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
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        S_max in units of ``base``, on the device and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources``, ``target``, ``base`` or
        ``batch_ndim`` are invalid, or a source contains the target axis.

    See Also
    --------
    synergy.pid.s_max : The numpy function, same arguments.

    Notes
    -----
    The gradient of I(X; Y) minus that of :func:`i_max`, with its rule at ties.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import s_max
    >>> from synergy.testing import XOR
    >>> round(s_max(torch.tensor(XOR)).item(), 12)
    1.0
    """
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func="s_max",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    whole = _mi_whole(table, batch_ndim, groups)
    return (whole - i_max_nats(table, batch_ndim, groups)) / log_base


def i_min(
    p: Tensor,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> Tensor:
    """Williams-Beer redundancy I_min({A_i}; Y) = sum_y p(y) min_i I(Y=y; A_i), differentiable.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        Source groups A_i as table axes; a group of several axes acts as one variable.
        Default: each axis but the target on its own. Axes in no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).

    Returns
    -------
    Tensor of shape batch
        I_min in units of ``base``, on the device and dtype of ``p``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``p`` is not a floating-point tensor, or ``sources``, ``target``, ``base`` or
        ``batch_ndim`` are invalid, or a source contains the target axis.

    See Also
    --------
    synergy.pid.i_min : The numpy function, same arguments.

    Notes
    -----
    Computed as sum_y min_i [p(y) I(Y=y; A_i)]. The gradient is that of the active
    branch, the source with the least specific information at each outcome; at ties it
    is the mean of the tied branches' gradients (that of ``torch.amin``), an element of
    the Clarke subdifferential.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import i_min
    >>> from synergy.testing import AND
    >>> round(i_min(torch.tensor(AND)).item(), 4)  # Williams & Beer (2010)
    0.3113
    """
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func="i_min",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    spec = weighted_specific_informations(table, batch_ndim, groups)
    return spec.amin(dim=-2).sum(dim=-1) / log_base
