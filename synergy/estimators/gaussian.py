"""Differentiable torch estimators for Gaussian latents: per-dimension KL, latent-subset I_max.
The Non-Synergistic VAE penalty (greedy best subset, worst-subset KL) and Gaussian closed forms.

Units: the VAE-facing functions (``kl_per_dim``, ``latent_i_max``, ``latent_s_max``,
``non_synergy_penalty``) answer in nats, the unit of the ELBO they are added to; the
Gaussian closed forms (``gaussian_entropy``, ``gaussian_mutual_information``,
``gaussian_wms``, ``gaussian_mmi_pid``) speak the library's language: bits by default,
``base=`` to change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from synergy._validate import check_base, invalid
from synergy.estimators._torch import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    Tensor,
    check_finite,
    check_float_tensor,
    check_index_group,
    check_mu_logvar,
    check_real,
    describe_tensor,
    nn,
    torch,
)

__all__ = [
    "GaussianPID",
    "NonSynergyPenalty",
    "NonSynergyPenaltyInfo",
    "gaussian_entropy",
    "gaussian_mmi_pid",
    "gaussian_mutual_information",
    "gaussian_wms",
    "greedy_best_subset",
    "kl_per_dim",
    "latent_i_max",
    "latent_s_max",
    "non_synergy_penalty",
]

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0


# ---------------------------------------------------------------------------------------
# Per-dimension KL and the latent-subset I_max / S_max
# ---------------------------------------------------------------------------------------


def kl_per_dim(mu: Tensor, logvar: Tensor, *, validate: bool = True) -> Tensor:
    """KL divergence of each diagonal-Gaussian posterior dimension from the N(0, 1) prior.

    Parameters
    ----------
    mu : Tensor of shape (..., D)
        Posterior means, usually (batch, latent dimension).
    logvar : Tensor of shape (..., D)
        Posterior log-variances, same shape, dtype and device as ``mu``.
    validate : bool, default True
        Check shapes, dtypes and finiteness (one device sync). ``False`` skips every check,
        for training loops.

    Returns
    -------
    Tensor of shape (..., D)
        ``KL[q(z_j | x) || N(0, 1)]`` in **nats**, on the input's device and dtype,
        differentiable with respect to ``mu`` and ``logvar``.

    Raises
    ------
    InvalidTypeError
        If ``mu`` or ``logvar`` is not a floating-point tensor, or their dtypes differ.
    InvalidParameterError
        If their shapes differ.
    InvalidDistributionError
        If either holds NaN or infinity.

    Notes
    -----
    .. math:: KL_j = \\tfrac12 (\\mu_j^2 + e^{v_j} - 1 - v_j), \\quad v_j = \\log\\sigma_j^2

    computed as ``0.5 * (mu**2 + expm1(v) - v)``: ``expm1`` keeps the value accurate (and
    not below zero by more than rounding) when the variance is close to 1. The KL of a
    diagonal Gaussian adds over dimensions, so the KL of a subset of latents is the sum
    of its dimensions' entries.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import kl_per_dim
    >>> kl_per_dim(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 0.0]]))
    tensor([[0.0000, 0.5000]])
    """
    if validate:
        check_mu_logvar(mu, logvar, "kl_per_dim")
    return 0.5 * (mu.square() + torch.expm1(logvar) - logvar)


def _subset_indices(subsets: Any, n_dims: int, func: str, device: torch.device) -> list[Tensor]:
    """Turn a list of latent subsets into one index tensor per subset."""
    if isinstance(subsets, (str, bytes)) or not isinstance(subsets, Sequence):
        raise invalid(
            "subsets",
            func,
            "a sequence of latent subsets, each a sequence of dimension indices",
            describe_tensor(subsets),
            kind=InvalidTypeError,
        )
    if len(subsets) == 0:
        raise invalid("subsets", func, "a non-empty sequence of latent subsets", "[]")
    return [
        torch.tensor(check_index_group(group, n_dims, "subsets", func), device=device)
        for group in subsets
    ]


def _subset_sums(kl: Tensor, groups: Sequence[Tensor]) -> Tensor:
    """(B, n_groups): each group's KL, summed over its dimensions by gathering them.

    Gathering rather than a product with a 0/1 mask: one overflowed dimension (KL = inf)
    must leave the subsets without it finite, where ``inf * 0`` would make every one NaN.
    """
    return torch.stack([kl.index_select(-1, g).sum(-1) for g in groups], dim=-1)


def _complement(groups: Sequence[Tensor], n_dims: int) -> list[Tensor]:
    keep = []
    for g in groups:
        mask = torch.ones(n_dims, dtype=torch.bool, device=g.device)
        mask[g] = False
        keep.append(torch.nonzero(mask).reshape(-1))
    return keep


def _subset_kl(
    mu: Tensor, logvar: Tensor, subsets: Any, func: str, validate: bool, *, complement: bool
) -> Tensor:
    """Per-sample KL of each subset (or of its complement), shape (B, n_subsets)."""
    if validate:
        check_mu_logvar(mu, logvar, func, ndim=2)
    kl = kl_per_dim(mu, logvar, validate=False)
    groups = _subset_indices(subsets, kl.shape[-1], func, kl.device)
    if complement:
        groups = _complement(groups, kl.shape[-1])
    return _subset_sums(kl, groups)


def _reduce_subsets(subset_kl: Tensor, reduce: str, outcome_wise: bool, func: str) -> Tensor:
    if reduce not in ("max", "min"):
        raise invalid("reduce", func, 'one of "max", "min"', repr(reduce))
    pick = torch.amax if reduce == "max" else torch.amin
    if outcome_wise:
        return pick(subset_kl, dim=-1).mean()
    return pick(subset_kl.mean(0), dim=-1)


def latent_i_max(
    mu: Tensor,
    logvar: Tensor,
    subsets: Sequence[Sequence[int]],
    *,
    reduce: Literal["max", "min"] = "max",
    outcome_wise: bool = False,
    validate: bool = True,
) -> Tensor:
    """I_max of a VAE's latent subsets about the data, with KL to the prior as the proxy.

    Parameters
    ----------
    mu, logvar : Tensor of shape (B, D)
        Means and log-variances of the diagonal-Gaussian posteriors q(z | x) of a batch.
    subsets : sequence of sequences of int
        The latent subsets A_1, ..., A_k, each a non-empty sequence of distinct dimension
        indices (negative indices count from the end). Subsets may overlap and need not
        cover every dimension.
    reduce : {"max", "min"}, default "max"
        ``"max"`` gives I_max (Griffith and Koch's definition, applied to latent subsets
        by Barrientos, 2018); ``"min"`` gives the minimum
        counterpart, the least informative subset's KL, which the Non-Syn VAE penalty
        approximates with its greedily found worst subset.
    outcome_wise : bool, default False
        ``False``: the Non-Syn VAE's minibatch approximation, the max over subsets of the
        batch-mean KL. ``True``: the max inside the mean, one choice per sample, which is
        Griffith and Koch's sum over outcomes x with p(x) uniform over the batch.
    validate : bool, default True
        Check the tensors (one device sync); ``False`` for training loops.

    Returns
    -------
    Tensor of shape ()
        In **nats**, differentiable with respect to ``mu`` and ``logvar``.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        For non-tensors, shape mismatches, an empty ``subsets`` or an empty subset, an
        index out of range, a repeated index, or non-finite values.

    Notes
    -----
    Griffith and Koch (2014) define I_max; Barrientos (2018) takes it over latent subsets
    A_i and data x,

    .. math:: I_{max}(\\{A_i\\}; X) = \\sum_x p(x) \\max_i I(A_i; X = x),
              \\quad I(A_i; X = x) = KL[q(A_i | x) \\| q(A_i)].

    The aggregate posterior q(A_i) is intractable, so, as in the Non-Syn VAE, the prior
    p(A_i) = N(0, I) stands in for it: :math:`KL[q(A_i|x) \\| p(A_i)]` is a **proxy**
    that over-states the specific information by
    :math:`KL[q(A_i) \\| p(A_i)]` on average (Hoffman & Johnson, 2016). By default
    (``outcome_wise=False``) the max also moves outside the batch mean,
    :math:`\\max_i \\frac1B \\sum_b KL_{A_i}(b)`, which is what the Non-Syn VAE
    optimises; since a mean of maxima is at least the maximum of means, the outcome-wise
    value is the larger of the two. A subset's KL is the sum of its dimensions' KLs.

    References
    ----------
    V. Griffith and C. Koch, "Quantifying synergistic mutual information", 2014.
    G. Barrientos, "Non-Synergistic Variational Autoencoders", LatinX in AI
    workshop at NeurIPS 2018.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import latent_i_max
    >>> mu = torch.tensor([[1.0, 2.0, 0.0]])
    >>> logvar = torch.zeros(1, 3)
    >>> latent_i_max(mu, logvar, [[0], [1], [0, 2]])  # KLs 0.5, 2.0, 0.5 + 0
    tensor(2.)
    >>> latent_i_max(mu, logvar, [[0], [1], [0, 2]], reduce="min")
    tensor(0.5000)
    """
    subset_kl = _subset_kl(mu, logvar, subsets, "latent_i_max", validate, complement=False)
    return _reduce_subsets(subset_kl, reduce, outcome_wise, "latent_i_max")


def latent_s_max(
    mu: Tensor,
    logvar: Tensor,
    subsets: Sequence[Sequence[int]],
    *,
    reduce: Literal["max", "min"] = "max",
    outcome_wise: bool = False,
    validate: bool = True,
) -> Tensor:
    """S_max of a VAE's latents: the batch-mean total KL minus :func:`latent_i_max`.

    Parameters
    ----------
    mu, logvar : Tensor of shape (B, D)
        Means and log-variances of the diagonal-Gaussian posteriors q(z | x) of a batch.
    subsets : sequence of sequences of int
        The latent subsets, as in :func:`latent_i_max`.
    reduce : {"max", "min"}, default "max"
        ``"max"``: S_max = whole minus I_max. ``"min"``: whole minus the minimum over
        subsets (an upper bound on S_max).
    outcome_wise : bool, default False
        Where the max over subsets sits, as in :func:`latent_i_max`.
    validate : bool, default True
        Check the tensors (one device sync); ``False`` for training loops.

    Returns
    -------
    Tensor of shape ()
        In **nats**, differentiable; at least 0 up to rounding, since every subset's KL is
        at most the total KL. Finite whenever the KL outside some subset is finite.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`latent_i_max`.

    Notes
    -----
    .. math:: S_{max} = \\frac1B \\sum_b KL[q(z | x_b) \\| p(z)] - I_{max}

    The first term is the **proxy** for I(x; z): by Hoffman & Johnson (2016) the
    batch-mean KL equals I(x; z) + KL[q(z) || p(z)], so it over-states I(x; z) by how far
    the aggregate posterior is from the prior. I_max is the proxy of
    :func:`latent_i_max`. Since the KL adds over dimensions, the difference is computed
    as :math:`\\min_i \\frac1B \\sum_b KL_{\\bar A_i}(b)`, the KL of each subset's complement
    :math:`\\bar A_i`: no difference of large, nearly equal terms, and no ``inf - inf``
    when one dimension's KL overflows.

    References
    ----------
    M. D. Hoffman and M. J. Johnson, "ELBO surgery: yet another way to carve up the
    variational evidence lower bound", NIPS 2016 workshop.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import latent_s_max
    >>> mu = torch.tensor([[1.0, 2.0, 0.0]])
    >>> latent_s_max(mu, torch.zeros(1, 3), [[0], [1]])  # total 2.5 minus I_max 2.0
    tensor(0.5000)
    """
    func = "latent_s_max"
    if reduce not in ("max", "min"):
        raise invalid("reduce", func, 'one of "max", "min"', repr(reduce))
    # whole - max_i K(A_i) = min_i K(complement of A_i), since the KL adds over dimensions:
    # no difference of large, nearly equal terms, and no inf - inf when a KL overflows.
    rest_kl = _subset_kl(mu, logvar, subsets, func, validate, complement=True)
    return _reduce_subsets(rest_kl, "min" if reduce == "max" else "max", outcome_wise, func)


# ---------------------------------------------------------------------------------------
# Greedy best subset and the Non-Synergistic VAE penalty
# ---------------------------------------------------------------------------------------


def _greedy_order(values: Sequence[float], omega: float) -> list[int]:
    """The greedy rule of the reference code on plain floats; returns dimensions in order chosen.

    A round that accepts nothing leaves the state as it was, so every later round would
    accept nothing too: stopping there is the same as running all D rounds.
    """
    n = len(values)
    taken = [False] * n
    chosen: list[int] = []
    best = 0.0
    for _ in range(n):
        base = best  # K(S): the value of the set chosen so far (0 for the empty set)
        factor = 1.0 if not chosen else omega
        pick = -1
        for j in range(n):
            if taken[j]:
                continue
            v = base + values[j]
            if factor * v > best:
                best = v
                pick = j
        if pick < 0:
            break
        taken[pick] = True
        chosen.append(pick)
    return chosen


def _check_omega(omega: Any, func: str) -> float:
    return check_real(
        omega, "omega", func, low=0.0, high=1.0, low_open=True, expected="a real number in (0, 1]"
    )


def greedy_best_subset(kl: Tensor, omega: float, *, validate: bool = True) -> Tensor:
    """The Non-Syn VAE's greedy choice of the most informative latent subset.

    Parameters
    ----------
    kl : Tensor of shape (D,)
        Batch-mean KL of each latent dimension (for example ``kl_per_dim(mu,
        logvar).mean(0)``). Only its values are read; no gradient flows through the choice.
    omega : float in (0, 1]
        Discount on a grown subset's value: a dimension joins after the first round only if
        ``omega`` times the grown subset's KL beats the best so far. The recipe uses 0.9.
    validate : bool, default True
        Check ``kl`` and ``omega``; ``False`` for training loops.

    Returns
    -------
    Tensor of dtype int64 and shape (k,), 0 <= k <= D
        The chosen dimensions **in the order they were chosen**, on ``kl``'s device.
        The worst subset A_w of the penalty is the complement.

    Raises
    ------
    InvalidTypeError
        If ``kl`` is not a floating-point tensor or ``omega`` not a real number.
    InvalidParameterError
        If ``kl`` is not one-dimensional or is empty, or ``omega`` is outside (0, 1].
    InvalidDistributionError
        If ``kl`` holds NaN or infinity.

    Notes
    -----
    The rule of the reference code (``greedy_policy_s_max_discount_worst``), with
    K(A) = sum of ``kl`` over A: start with S empty and best = 0. For D rounds, scan the
    dimensions j not in S in index order with v = K(S + j); in the first round accept when
    ``v > best``, in later rounds when ``omega * v > best``. On acceptance the round's
    candidate becomes S + j and best = v, so later candidates of the same round must beat
    the new best; at the end of the round S becomes the last accepted candidate, so at
    most one dimension joins per round.

    Consequences worth knowing: best starts at **0**, so a dimension with KL exactly 0
    (or below) is never chosen in the first round, and if no KL is positive the chosen
    set is empty and every dimension is in A_w. With ``omega = 1`` the rule takes the
    dimensions with positive KL in decreasing order (ties to the lower index). With
    ``omega < 1`` a later round is *not* a running maximum: after accepting j with value
    v, a later candidate needs a value above v / omega, so the round can settle on a
    dimension with a smaller KL than one further on (``kl = [10, 2, 3]``, ``omega = 0.9``:
    round two accepts 1, since 0.9 * 12 > 10, and then rejects 2, since 0.9 * 13 <= 12).
    With ``omega <= 1/2`` at most one dimension is chosen: the first round takes the
    largest KL m, and ``omega * (m + k_j) <= m`` for every other j.

    That sequential, threshold-moving scan has no closed form as a few tensor
    operations, and with D around 10 every tensor operation costs more than the whole
    scan. So the values are copied to the host once (one device sync, where the reference
    synchronised once per candidate) and the scan runs on Python floats: about
    D^2 / 2 comparisons, a few microseconds for D = 10. Values are summed in float64, in
    the order the dimensions were chosen; the reference summed in the tensor's dtype.

    References
    ----------
    G. Barrientos, "Non-Synergistic Variational Autoencoders", LatinX in AI
    workshop at NeurIPS 2018, and its reference code (PyTorch 0.4.1).

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import greedy_best_subset
    >>> greedy_best_subset(torch.tensor([0.1, 3.0, 0.2, 1.0]), 0.9)
    tensor([1, 3])
    >>> greedy_best_subset(torch.tensor([0.1, 3.0, 0.2, 1.0]), 1.0)
    tensor([1, 3, 2, 0])
    """
    func = "greedy_best_subset"
    if validate:
        check_float_tensor(kl, "kl", func)
        if kl.ndim != 1:
            raise invalid("kl", func, "a one-dimensional tensor (D,)", f"shape {tuple(kl.shape)}")
        if kl.numel() == 0:
            raise invalid(
                "kl",
                func,
                "a non-empty tensor (D,), one KL per latent dimension",
                "a tensor with no latent dimensions, shape (0,)",
            )
        check_finite(kl, "kl", func)
        omega = _check_omega(omega, func)
    chosen = _greedy_order(kl.detach().tolist(), float(omega))
    return torch.tensor(chosen, dtype=torch.long, device=kl.device)


@dataclass(frozen=True)
class NonSynergyPenaltyInfo:
    """What :func:`non_synergy_penalty` saw and chose.

    Attributes
    ----------
    kl_per_dim : Tensor of shape (B, D)
        Per-sample, per-dimension KL to the prior in nats, still attached to the graph:
        ``kl_per_dim.sum(1).mean()`` is the ELBO's KL term, so a trainer need not
        compute it twice.
    best : Tensor of dtype int64, shape (k,)
        The greedy best subset, in the order chosen.
    worst : Tensor of dtype int64, shape (D - k,)
        Its complement A_w in increasing order: the dimensions the penalty acts on.
    """

    kl_per_dim: Tensor
    best: Tensor
    worst: Tensor


_REDUCTIONS = ("mean", "sum", "none")


def non_synergy_penalty(
    mu: Tensor,
    logvar: Tensor,
    *,
    alpha: float,
    omega: float,
    reduction: Literal["mean", "sum", "none"] = "mean",
    validate: bool = True,
) -> tuple[Tensor, NonSynergyPenaltyInfo]:
    """The Non-Synergistic VAE's synergy penalty: alpha times the KL of the worst latent subset.

    Parameters
    ----------
    mu, logvar : Tensor of shape (B, D)
        Means and log-variances of the diagonal-Gaussian posteriors q(z | x) of a batch.
    alpha : float >= 0
        Weight of the penalty (the recipe uses 5).
    omega : float in (0, 1]
        Discount of :func:`greedy_best_subset` (the recipe uses 0.9).
    reduction : {"mean", "sum", "none"}, default "mean"
        Over the batch: ``"mean"`` is the reference's loss, ``"none"`` returns one value
        per sample.
    validate : bool, default True
        Check every argument (one device sync). ``False`` skips all checks, for training
        loops; the greedy choice still copies D numbers to the host.

    Returns
    -------
    loss : Tensor of shape () or (B,)
        In **nats**, differentiable with respect to ``mu`` and ``logvar``; its gradient
        reaches only the worst dimensions.
    info : NonSynergyPenaltyInfo
        ``kl_per_dim`` (B, D) attached to the graph, and ``best`` and ``worst`` index
        tensors.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        For non-tensors, shape mismatches, non-finite values, ``alpha < 0``, ``omega``
        outside (0, 1] or an unknown ``reduction``.

    Notes
    -----
    With :math:`KL_{b,j}` from :func:`kl_per_dim`, the greedy best subset S chosen on the
    **detached** batch mean :math:`\\bar k_j = \\frac1B \\sum_b KL_{b,j}`, and
    :math:`A_w` its complement,

    .. math:: L_{syn} = \\alpha \\frac1B \\sum_b \\sum_{j \\in A_w} KL_{b,j}.

    This is the synergy term of the Non-Syn VAE objective (Barrientos, 2018),
    :math:`\\mathcal L = \\mathcal L_{elbo} - \\alpha KL[q(A_w | x) \\| p(A_w)]`, in which
    :math:`A_w` stands for the latent subset that carries the least information about the
    batch (the minimum counterpart of :func:`latent_i_max`, ``reduce="min"``), found
    greedily. Add it to a loss you minimise; it is in nats like the ELBO.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import non_synergy_penalty
    >>> mu = torch.tensor([[2.0, 0.5, 1.0], [2.0, 0.5, 1.0]], requires_grad=True)
    >>> loss, info = non_synergy_penalty(mu, torch.zeros(2, 3), alpha=5.0, omega=0.9)
    >>> info.best, info.worst  # KLs 2, 0.125, 0.5: 0.9 * 2.125 <= 2 < 0.9 * 2.5
    (tensor([0, 2]), tensor([1]))
    >>> loss  # 5 * 0.125
    tensor(0.6250, grad_fn=<MulBackward0>)
    """
    func = "non_synergy_penalty"
    if validate:
        check_mu_logvar(mu, logvar, func, ndim=2)
        alpha = check_real(alpha, "alpha", func, low=0.0, expected="a finite real number >= 0")
        omega = _check_omega(omega, func)
        if reduction not in _REDUCTIONS:
            raise invalid("reduction", func, 'one of "mean", "sum", "none"', repr(reduction))
    kl = kl_per_dim(mu, logvar, validate=False)
    n_dims = kl.shape[-1]
    best_list = _greedy_order(kl.detach().mean(0).tolist(), float(omega))
    in_best = set(best_list)
    worst_list = [j for j in range(n_dims) if j not in in_best]
    best = torch.tensor(best_list, dtype=torch.long, device=kl.device)
    worst = torch.tensor(worst_list, dtype=torch.long, device=kl.device)
    per_sample = kl.index_select(-1, worst).sum(-1)
    if reduction == "mean":
        loss = alpha * per_sample.mean()
    elif reduction == "sum":
        loss = alpha * per_sample.sum()
    elif reduction == "none":
        loss = alpha * per_sample
    else:
        raise invalid("reduction", func, 'one of "mean", "sum", "none"', repr(reduction))
    return loss, NonSynergyPenaltyInfo(kl_per_dim=kl, best=best, worst=worst)


class NonSynergyPenalty(nn.Module):
    """:func:`non_synergy_penalty` as a module, to add the synergy term to any VAE's loss.

    Parameters
    ----------
    alpha : float >= 0
        Weight of the penalty (the recipe uses 5).
    omega : float in (0, 1]
        Discount of the greedy best-subset rule (the recipe uses 0.9).
    reduction : {"mean", "sum", "none"}, default "mean"
        Reduction over the batch.
    validate : bool, default True
        Check the tensors on every call; the hyper-parameters are always checked here.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import NonSynergyPenalty
    >>> penalty = NonSynergyPenalty(alpha=5.0, omega=0.9)
    >>> mu, logvar = torch.zeros(4, 10), torch.zeros(4, 10)
    >>> loss, info = penalty(mu, logvar)  # loss = recon + kl + loss in your training step
    >>> loss
    tensor(0.)
    """

    def __init__(
        self,
        alpha: float,
        omega: float,
        *,
        reduction: Literal["mean", "sum", "none"] = "mean",
        validate: bool = True,
    ) -> None:
        super().__init__()
        func = "NonSynergyPenalty"
        self.alpha = check_real(
            alpha, "alpha", func, low=0.0, expected="a finite real number >= 0"
        )
        self.omega = _check_omega(omega, func)
        if reduction not in _REDUCTIONS:
            raise invalid("reduction", func, 'one of "mean", "sum", "none"', repr(reduction))
        self.reduction: Literal["mean", "sum", "none"] = reduction
        self.validate = validate

    def forward(self, mu: Tensor, logvar: Tensor) -> tuple[Tensor, NonSynergyPenaltyInfo]:
        return non_synergy_penalty(
            mu,
            logvar,
            alpha=self.alpha,
            omega=self.omega,
            reduction=self.reduction,
            validate=self.validate,
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, omega={self.omega}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------
# Gaussian closed forms
# ---------------------------------------------------------------------------------------


def _working(cov: Tensor) -> Tensor:
    """``cov`` in a dtype torch's linear algebra computes in: float16 and bfloat16 go to float32.

    torch has no Cholesky factorisation in half precision; float32 holds every half value
    exactly, and the results are cast back to the input's dtype.
    """
    if cov.dtype in (torch.float16, torch.bfloat16):
        return cov.to(torch.float32)
    return cov


def _check_cov(cov: Any, func: str, validate: bool) -> Tensor:
    """Check ``cov`` (when ``validate``) and return it in the dtype to compute in."""
    if not validate:
        return _working(cov)
    check_float_tensor(cov, "cov", func, min_ndim=2)
    n = cov.shape[-1]
    if cov.shape[-2] != n or n == 0:
        raise invalid(
            "cov",
            func,
            "a batch of non-empty square matrices, shape (..., n, n)",
            f"shape {tuple(cov.shape)}",
        )
    check_finite(cov, "cov", func)
    eps = torch.finfo(cov.dtype).eps
    work = _working(cov)
    scale = work.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(work.dtype).tiny)
    tol = math.sqrt(eps)
    asym = ((work - work.mT).abs() / scale).amax()
    if bool(asym > tol):
        raise invalid(
            "cov",
            func,
            f"symmetric (relative asymmetry <= {tol:.2g})",
            f"a matrix with relative asymmetry {float(asym):.3g}",
            kind=InvalidDistributionError,
        )
    # A Cholesky factorisation can succeed on a singular matrix by rounding alone (its last
    # pivot a few ulps above 0), and the log-determinant then comes out finite where it is
    # -inf. The smallest eigenvalue of the correlation matrix R bounds every conditional
    # variance (in units of the variable's own variance) of every principal sub-matrix; at
    # or below n * eps times a safety factor it is rounding. Since det R <= lambda_min *
    # n^(n-1) (no eigenvalue of R exceeds its trace, n), the pivots of R's Cholesky factor
    # clear most matrices at once; eigenvalues are computed only for the others.
    floor = 16 * n * torch.finfo(work.dtype).eps  # rounding of the working dtype
    got = "a matrix whose Cholesky factorisation fails"
    diag = torch.diagonal(work, dim1=-2, dim2=-1)
    singular = bool((diag <= 0).any())
    if not singular:
        d = diag.sqrt()
        corr = work / (d[..., :, None] * d[..., None, :])
        chol, info = torch.linalg.cholesky_ex(corr)
        singular = bool((info != 0).any())
    if not singular:
        log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        unsure = log_det - (n - 1) * math.log(n) <= math.log(floor)
        if bool(unsure.any()):
            doubtful = corr[unsure]
            smallest = torch.linalg.eigvalsh(0.5 * (doubtful + doubtful.mT))[..., 0].amin()
            if bool(smallest <= floor):
                singular = True
                got = (
                    f"a numerically singular matrix (smallest eigenvalue of its correlation "
                    f"matrix {float(smallest):.3g} <= {floor:.2g} for {work.dtype})"
                )
    if singular:
        raise invalid(
            "cov",
            func,
            "positive definite (a covariance with no exactly dependent variables)",
            got,
            kind=InvalidDistributionError,
        )
    return work


def _logdet(cov: Tensor, idx: tuple[int, ...]) -> Tensor:
    """log det of the principal sub-matrix on ``idx``, differentiable, through Cholesky."""
    index = torch.tensor(idx, dtype=torch.long, device=cov.device)
    sub = cov.index_select(-1, index).index_select(-2, index)
    # cholesky_ex never raises or syncs; positive definiteness was checked when validating.
    chol, _ = torch.linalg.cholesky_ex(sub)
    return 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def _mi(cov: Tensor, a: tuple[int, ...], b: tuple[int, ...]) -> Tensor:
    """I(a; b) in nats for disjoint index groups."""
    return 0.5 * (_logdet(cov, a) + _logdet(cov, b) - _logdet(cov, a + b))


def _groups(
    cov: Tensor, sources: Any, target: Any, func: str
) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    n = cov.shape[-1]
    if isinstance(sources, (str, bytes)) or not isinstance(sources, Sequence) or not sources:
        raise invalid(
            "sources",
            func,
            "a non-empty sequence of index groups, such as [0, 1] or [(0, 1), (2,)]",
            describe_tensor(sources),
            kind=InvalidTypeError if not isinstance(sources, Sequence) else InvalidParameterError,
        )
    groups = [check_index_group(g, n, "sources", func) for g in sources]
    tgt = check_index_group(target, n, "target", func)
    seen: set[int] = set()
    for g in groups:
        if seen & set(g):
            raise invalid("sources", func, "disjoint groups", f"{[list(x) for x in groups]!r}")
        seen |= set(g)
    if seen & set(tgt):
        raise invalid("target", func, "indices disjoint from `sources`", f"{list(tgt)!r}")
    return groups, tgt


def gaussian_entropy(cov: Tensor, *, base: float = 2, validate: bool = True) -> Tensor:
    """Differential entropy of a multivariate Gaussian from its covariance, batched.

    Parameters
    ----------
    cov : Tensor of shape (..., n, n)
        Symmetric positive-definite covariance matrices. float16 and bfloat16 are
        computed in float32 (torch has no half-precision Cholesky) and returned in
        their own dtype.
    base : float, default 2
        Logarithm base: 2 for bits (the library's unit), ``math.e`` for nats.
    validate : bool, default True
        Check shape, finiteness, symmetry and positive definiteness (one device sync).

    Returns
    -------
    Tensor of shape (...)
        h(X) in bits (by default); may be negative, as differential entropies can.
        Differentiable with respect to ``cov``.

    Raises
    ------
    InvalidTypeError
        If ``cov`` is not a floating-point tensor or ``base`` not a real number.
    InvalidParameterError
        If ``cov`` is not a batch of square matrices, or ``base`` is not > 0 and != 1.
    InvalidDistributionError
        If ``cov`` is not finite, not symmetric or not positive definite, including a
        singular matrix whose Cholesky factorisation succeeds by rounding alone (the
        smallest eigenvalue of its correlation matrix at most 16 n eps).

    Notes
    -----
    .. math:: h(X) = \\tfrac12 \\log\\det(2\\pi e\\, \\Sigma)
                   = \\tfrac n2 \\log(2\\pi e) + \\tfrac12 \\log\\det\\Sigma

    with log det from the Cholesky factor, divided by log(base) once.

    References
    ----------
    T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Theorem 8.4.1.

    Examples
    --------
    >>> import math, torch
    >>> from synergy.estimators.gaussian import gaussian_entropy
    >>> gaussian_entropy(torch.eye(1, dtype=torch.float64), base=math.e)  # 0.5 log(2 pi e)
    tensor(1.4189, dtype=torch.float64)
    """
    func = "gaussian_entropy"
    log_base = check_base(base, func)
    work = _check_cov(cov, func, validate)
    n = cov.shape[-1]
    h = 0.5 * (n * _LOG_2PI_E + _logdet(work, tuple(range(n))))
    return (h / log_base).to(cov.dtype)


def gaussian_mutual_information(
    cov: Tensor,
    a: int | Sequence[int],
    b: int | Sequence[int],
    *,
    base: float = 2,
    validate: bool = True,
) -> Tensor:
    """Mutual information between two groups of jointly Gaussian variables, batched.

    Parameters
    ----------
    cov : Tensor of shape (..., n, n)
        Joint covariance of all the variables.
    a, b : int or sequence of int
        Disjoint, non-empty groups of indices into the last two axes of ``cov``.
    base : float, default 2
        Logarithm base (bits by default).
    validate : bool, default True
        Check ``cov`` (one device sync); the index groups are always checked.

    Returns
    -------
    Tensor of shape (...)
        I(A; B) >= 0 in bits (by default), differentiable with respect to ``cov``.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`gaussian_entropy`, and for empty, repeated, out-of-range or overlapping
        index groups.

    Notes
    -----
    .. math:: I(A; B) = \\tfrac12 \\left(\\log\\det\\Sigma_{AA} + \\log\\det\\Sigma_{BB}
              - \\log\\det\\Sigma_{A\\cup B}\\right)

    References
    ----------
    T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Ch. 8.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import gaussian_mutual_information
    >>> cov = torch.tensor([[1.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
    >>> gaussian_mutual_information(cov, 0, 1)  # -0.5 log2(1 - 0.6**2)
    tensor(0.3219, dtype=torch.float64)
    """
    func = "gaussian_mutual_information"
    log_base = check_base(base, func)
    work = _check_cov(cov, func, validate)
    n = cov.shape[-1]
    ga = check_index_group(a, n, "a", func)
    gb = check_index_group(b, n, "b", func)
    if set(ga) & set(gb):
        raise invalid("b", func, "indices disjoint from `a`", f"{list(gb)!r}")
    return (_mi(work, ga, gb) / log_base).to(cov.dtype)


def gaussian_wms(
    cov: Tensor,
    sources: Sequence[int | Sequence[int]],
    target: int | Sequence[int],
    *,
    base: float = 2,
    validate: bool = True,
) -> Tensor:
    """Whole-minus-sum synergy of jointly Gaussian sources about a Gaussian target, batched.

    Parameters
    ----------
    cov : Tensor of shape (..., n, n)
        Joint covariance of sources and target.
    sources : sequence of int or of sequences of int
        The source groups X_1, ..., X_k (disjoint, non-empty).
    target : int or sequence of int
        The target Y, disjoint from the sources.
    base : float, default 2
        Logarithm base (bits by default).
    validate : bool, default True
        Check ``cov`` (one device sync).

    Returns
    -------
    Tensor of shape (...)
        WMS in bits (by default): positive when synergy dominates, negative when
        redundancy does. Differentiable with respect to ``cov``.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`gaussian_mutual_information`.

    Notes
    -----
    .. math:: WMS(\\{X_i\\}; Y) = I(X_1 \\ldots X_k; Y) - \\sum_i I(X_i; Y)

    References
    ----------
    V. Griffith and C. Koch, "Quantifying synergistic mutual information", 2014.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import gaussian_wms
    >>> cov = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.25]])
    >>> gaussian_wms(cov, [0, 1], 2)  # Y = X1 + X2 + noise of variance 0.25
    tensor(0.7370)
    """
    func = "gaussian_wms"
    log_base = check_base(base, func)
    work = _check_cov(cov, func, validate)
    groups, tgt = _groups(cov, sources, target, func)
    whole = _mi(work, tuple(i for g in groups for i in g), tgt)
    parts = torch.stack([_mi(work, g, tgt) for g in groups], dim=-1).sum(-1)
    return ((whole - parts) / log_base).to(cov.dtype)


@dataclass(frozen=True)
class GaussianPID:
    """Minimum-mutual-information PID of two Gaussian sources about a Gaussian target.

    Every attribute is a tensor of the batch shape ``...`` of the covariance (``unique``
    adds one axis of 2), in the unit of the ``base`` asked for.

    Attributes
    ----------
    redundancy : Tensor of shape (...)
        min(I(X_1; Y), I(X_2; Y)).
    unique : Tensor of shape (..., 2)
        I(X_i; Y) - redundancy for each source (one of the two is 0).
    synergy : Tensor of shape (...)
        I(X_1 X_2; Y) - I(X_1; Y) - I(X_2; Y) + redundancy.
    mutual_information : Tensor of shape (...)
        I(X_1 X_2; Y), the sum of the four atoms.
    """

    redundancy: Tensor
    unique: Tensor
    synergy: Tensor
    mutual_information: Tensor


def gaussian_mmi_pid(
    cov: Tensor,
    sources: Sequence[int | Sequence[int]],
    target: int | Sequence[int],
    *,
    base: float = 2,
    validate: bool = True,
) -> GaussianPID:
    """Minimum-mutual-information partial information decomposition for Gaussians, batched.

    Parameters
    ----------
    cov : Tensor of shape (..., n, n)
        Joint covariance of the sources and the target.
    sources : sequence of two ints or two sequences of int
        The two source groups X_1, X_2 (disjoint, non-empty).
    target : int or sequence of int
        The target Y, disjoint from the sources.
    base : float, default 2
        Logarithm base (bits by default).
    validate : bool, default True
        Check ``cov`` (one device sync).

    Returns
    -------
    GaussianPID
        Frozen result with ``redundancy``, ``unique`` (..., 2), ``synergy`` and
        ``mutual_information``; all differentiable with respect to ``cov``.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`gaussian_mutual_information`, and when ``sources`` is not two groups.

    Notes
    -----
    .. math:: R = \\min_i I(X_i; Y), \\quad U_i = I(X_i; Y) - R,
              \\quad S = I(X_1 X_2; Y) - I(X_1; Y) - I(X_2; Y) + R

    Barrett (2015) showed that for jointly Gaussian variables with a **univariate**
    target, the PIDs of Bertschinger et al. (BROJA), Harder et al. and Griffith & Koch
    all reduce to this one; for a multivariate target it is a definition, not a theorem.

    References
    ----------
    A. B. Barrett, "Exploration of synergistic and redundant information sharing in
    static and dynamical Gaussian systems", Phys. Rev. E 91, 052802 (2015).

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.gaussian import gaussian_mmi_pid
    >>> cov = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.25]])
    >>> pid = gaussian_mmi_pid(cov, [0, 1], 2)
    >>> pid.redundancy, pid.synergy
    (tensor(0.4240), tensor(1.1610))
    """
    func = "gaussian_mmi_pid"
    log_base = check_base(base, func)
    work = _check_cov(cov, func, validate)
    groups, tgt = _groups(cov, sources, target, func)
    if len(groups) != 2:
        raise invalid("sources", func, "exactly two source groups", f"{len(groups)} groups")
    # The minimum is taken in nats: a base below 1 flips the sign of every value, and the
    # least informative source must not become the most informative one.
    i1 = _mi(work, groups[0], tgt)
    i2 = _mi(work, groups[1], tgt)
    whole = _mi(work, groups[0] + groups[1], tgt)
    redundancy = torch.minimum(i1, i2)
    unique = torch.stack([i1 - redundancy, i2 - redundancy], dim=-1)
    synergy = whole - i1 - i2 + redundancy
    return GaussianPID(
        redundancy=(redundancy / log_base).to(cov.dtype),
        unique=(unique / log_base).to(cov.dtype),
        synergy=(synergy / log_base).to(cov.dtype),
        mutual_information=(whole / log_base).to(cov.dtype),
    )
