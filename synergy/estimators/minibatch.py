"""Minibatch estimates of a VAE's aggregate posterior q(z) (MWS and MSS, Chen et al. 2018).
From them, the beta-TCVAE split of the KL: index-code MI, total correlation, dimension-wise KL.

All values are in nats, the unit of the ELBO these terms are weighted into.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from synergy._validate import invalid
from synergy.estimators._torch import (
    InvalidParameterError,
    InvalidTypeError,
    Tensor,
    check_finite,
    check_mu_logvar,
    describe_tensor,
    torch,
)

__all__ = ["TCDecomposition", "log_prod_qzj", "log_qz", "tc_decomposition"]

_LOG_2PI = math.log(2.0 * math.pi)
_METHODS = ("mss", "mws")


def _check_inputs(
    z: Any, mu: Any, logvar: Any, dataset_size: Any, method: Any, func: str, validate: bool
) -> None:
    if method not in _METHODS:
        raise invalid("method", func, 'one of "mss", "mws"', repr(method))
    if not validate:
        return
    check_mu_logvar(mu, logvar, func, ndim=2)
    if not isinstance(z, Tensor) or z.shape != mu.shape or z.dtype != mu.dtype:
        raise invalid(
            "z",
            func,
            f"a tensor of the same shape and dtype as `mu`, {tuple(mu.shape)} {mu.dtype}",
            describe_tensor(z),
            kind=InvalidTypeError if not isinstance(z, Tensor) else InvalidParameterError,
        )
    check_finite(z, "z", func)
    batch = mu.shape[0]
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int):
        raise invalid(
            "dataset_size",
            func,
            "an integer (the number of training examples)",
            describe_tensor(dataset_size),
            kind=InvalidTypeError,
        )
    if dataset_size < batch:
        raise invalid(
            "dataset_size",
            func,
            f"at least the batch size, {batch}",
            repr(dataset_size),
        )
    if method == "mss" and batch < 2:
        raise invalid(
            "z", func, "a batch of at least 2 samples for method='mss'", f"batch size {batch}"
        )


def _log_density_matrix(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log q(z_i,d | x_j) for every sample i, posterior j and dimension d: (B, B, D)."""
    diff = z.unsqueeze(1) - mu.unsqueeze(0)
    lv = logvar.unsqueeze(0)
    return -0.5 * (_LOG_2PI + lv + diff.square() * torch.exp(-lv))


def _log_weights(batch: int, dataset_size: int, method: str, like: Tensor) -> Tensor:
    """The (B, B) log importance weights of sample i's posterior mixture over the batch."""
    n, m = dataset_size, batch
    if method == "mws":
        return torch.full((m, m), -math.log(n * m), dtype=like.dtype, device=like.device)
    # MSS: the sample's own posterior stands for itself (1/N); the other M - 1 stand for
    # the other N - 1 examples: M - 2 of them with weight 1/(M - 1) and one, the next in
    # the batch (cyclically), with (N - M + 1) / (N (M - 1)), so that each row sums to 1.
    w = torch.full((m, m), 1.0 / (m - 1), dtype=torch.float64)
    idx = torch.arange(m)
    w[idx, idx] = 1.0 / n
    w[idx, (idx + 1) % m] = (n - m + 1) / (n * (m - 1))
    return w.log().to(dtype=like.dtype, device=like.device)


def _log_q_both(
    z: Tensor, mu: Tensor, logvar: Tensor, dataset_size: int, method: str
) -> tuple[Tensor, Tensor, Tensor]:
    """log q(z_i | x_i), log q(z_i) and sum_d log q(z_i,d), each (B,)."""
    mat = _log_density_matrix(z, mu, logvar)  # (B, B, D)
    log_w = _log_weights(mat.shape[0], dataset_size, method, mat)  # (B, B)
    joint = mat.sum(-1)  # (B, B)
    log_q_cond = torch.diagonal(joint)
    log_q = torch.logsumexp(log_w + joint, dim=1)
    log_prod = torch.logsumexp(log_w.unsqueeze(-1) + mat, dim=1).sum(-1)
    return log_q_cond, log_q, log_prod


def log_qz(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    dataset_size: int,
    method: Literal["mss", "mws"] = "mss",
    validate: bool = True,
) -> Tensor:
    """Minibatch estimate of log q(z_i) for each sample, q(z) the aggregate posterior.

    Parameters
    ----------
    z : Tensor of shape (B, D)
        One sample z_i ~ q(z | x_i) per example of the batch.
    mu, logvar : Tensor of shape (B, D)
        Means and log-variances of the diagonal-Gaussian posteriors q(z | x_j).
    dataset_size : int
        N, the number of training examples (at least B).
    method : {"mss", "mws"}, default "mss"
        Minibatch stratified sampling or minibatch weighted sampling (see Notes).
    validate : bool, default True
        Check the tensors (one device sync); ``False`` for training loops.

    Returns
    -------
    Tensor of shape (B,)
        Estimates of log q(z_i) in nats, differentiable with respect to z, mu, logvar.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        For non-tensors, shape or dtype mismatches, non-finite values, a dataset smaller
        than the batch, an unknown method, or a batch of one with ``"mss"``.

    Notes
    -----
    With :math:`q(z) = \\frac1N \\sum_n q(z | x_n)`, both estimators are
    :math:`\\log \\sum_j w_{ij}\\, q(z_i | x_j)` over the batch:

    - MWS (Chen et al., section 4.1): :math:`w_{ij} = 1/(NM)`. Its weights sum to
      1/N, so it is never less than log M below log q(z_i) (the batch's posteriors are
      part of the full mixture), about log M below when each sample's own posterior
      dominates and about log N below when the posteriors overlap. It does not converge
      to log q(z) as M grows; the offset shifts the terms of :func:`tc_decomposition`.
      It is the estimator the paper trains with; prefer MSS for values.
    - MSS (Chen et al., appendix): :math:`w_{ii} = 1/N`, one other sample (here the next
      one in the batch, cyclically) :math:`(N - M + 1)/(N(M - 1))`, the remaining M - 2
      :math:`1/(M - 1)`. The weights sum to 1 and, for a batch drawn uniformly without
      replacement, the estimate of q(z_i) (before the log) is unbiased. The reference
      code's weight matrix fills columns instead of the diagonal (a stride bug, see
      rtqichen/beta-tcvae pull request #1); this is the matrix the appendix describes.

    The log of MSS's unbiased estimate is still biased low (Jensen), by less as M grows.

    References
    ----------
    R. T. Q. Chen, X. Li, R. Grosse and D. Duvenaud, "Isolating Sources of Disentanglement
    in Variational Autoencoders", NeurIPS 2018, section 4.1 and appendix C.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.minibatch import log_qz
    >>> mu, logvar = torch.zeros(4, 2), torch.zeros(4, 2)
    >>> log_qz(torch.zeros(4, 2), mu, logvar, dataset_size=4)  # all equal: log N(0; 0, I)
    tensor([-1.8379, -1.8379, -1.8379, -1.8379])
    """
    _check_inputs(z, mu, logvar, dataset_size, method, "log_qz", validate)
    return _log_q_both(z, mu, logvar, dataset_size, method)[1]


def log_prod_qzj(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    dataset_size: int,
    method: Literal["mss", "mws"] = "mss",
    validate: bool = True,
) -> Tensor:
    """Minibatch estimate of log prod_j q(z_ij), the product of the aggregate marginals.

    Parameters
    ----------
    z, mu, logvar : Tensor of shape (B, D)
        As in :func:`log_qz`.
    dataset_size : int
        N, the number of training examples (at least B).
    method : {"mss", "mws"}, default "mss"
        As in :func:`log_qz`, applied to each dimension's marginal.
    validate : bool, default True
        Check the tensors (one device sync).

    Returns
    -------
    Tensor of shape (B,)
        :math:`\\sum_j \\log \\hat q(z_{ij})` in nats, differentiable.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`log_qz`.

    Notes
    -----
    .. math:: \\log \\prod_j q(z_{ij}) \\approx \\sum_j \\log \\sum_k w_{ik}\\,
              q(z_{ij} | x_k)

    with the weights of :func:`log_qz`; under MWS each dimension's estimate carries the
    same downward bias, D times over.

    References
    ----------
    R. T. Q. Chen et al., "Isolating Sources of Disentanglement in Variational
    Autoencoders", NeurIPS 2018.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.minibatch import log_prod_qzj
    >>> mu, logvar = torch.zeros(4, 2), torch.zeros(4, 2)
    >>> log_prod_qzj(torch.zeros(4, 2), mu, logvar, dataset_size=4)
    tensor([-1.8379, -1.8379, -1.8379, -1.8379])
    """
    _check_inputs(z, mu, logvar, dataset_size, method, "log_prod_qzj", validate)
    return _log_q_both(z, mu, logvar, dataset_size, method)[2]


@dataclass(frozen=True)
class TCDecomposition:
    """The beta-TCVAE split of the batch-mean KL, each term a 0-d tensor in nats.

    Attributes
    ----------
    index_code_mi : Tensor
        Estimate of I_q(z; n) = E[log q(z | x_n) - log q(z)].
    total_correlation : Tensor
        Estimate of KL[q(z) || prod_j q(z_j)] = E[log q(z) - sum_j log q(z_j)].
    dimension_wise_kl : Tensor
        Estimate of sum_j KL[q(z_j) || p(z_j)] = E[sum_j log q(z_j) - log p(z)].
    """

    index_code_mi: Tensor
    total_correlation: Tensor
    dimension_wise_kl: Tensor


def tc_decomposition(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    dataset_size: int,
    method: Literal["mss", "mws"] = "mss",
    validate: bool = True,
) -> TCDecomposition:
    """Index-code MI, total correlation and dimension-wise KL of a batch (beta-TCVAE).

    Parameters
    ----------
    z : Tensor of shape (B, D)
        One sample z_i ~ q(z | x_i) per example (the reparametrised sample of the ELBO).
    mu, logvar : Tensor of shape (B, D)
        Means and log-variances of the diagonal-Gaussian posteriors.
    dataset_size : int
        N, the number of training examples (at least B).
    method : {"mss", "mws"}, default "mss"
        Estimator of q(z), as in :func:`log_qz`.
    validate : bool, default True
        Check the tensors (one device sync); ``False`` for training loops.

    Returns
    -------
    TCDecomposition
        Frozen result of three 0-d tensors in nats, each differentiable with respect to
        ``z``, ``mu`` and ``logvar``.

    Raises
    ------
    InvalidTypeError, InvalidParameterError, InvalidDistributionError
        As :func:`log_qz`.

    Notes
    -----
    With p(n) uniform over the dataset and p(z) = N(0, I) (Chen et al., eq. 2):

    .. math:: E_{p(n)} KL[q(z|n) \\| p(z)] = \\underbrace{KL[q(z, n) \\| q(z)p(n)]}_{
              \\text{index-code MI}} + \\underbrace{KL[q(z) \\| \\textstyle\\prod_j q(z_j)]}_{
              \\text{total correlation}} + \\underbrace{\\textstyle\\sum_j KL[q(z_j) \\|
              p(z_j)]}_{\\text{dimension-wise KL}}

    Each term is the batch mean of a difference of log densities at the samples z_i, with
    log q(z_i) and sum_j log q(z_ij) from :func:`log_qz` and :func:`log_prod_qzj`; the
    three add up to the batch mean of log q(z_i | x_i) - log p(z_i), a one-sample
    estimate of the mean KL, whatever the method. The split among them inherits each
    method's bias. MWS puts each log density an offset of log M to about log N below the
    truth (see :func:`log_qz`), once for log q(z) and D times for the marginals, so its
    total correlation comes out far too high: by about 14 nats in the tests' setting
    (D = 3, N = 1024, M = 16 to 1024), where MSS is within 0.6 nats at M = 16.

    References
    ----------
    R. T. Q. Chen, X. Li, R. Grosse and D. Duvenaud, "Isolating Sources of Disentanglement
    in Variational Autoencoders", NeurIPS 2018.

    Examples
    --------
    >>> import torch
    >>> from synergy.estimators.minibatch import tc_decomposition
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> mu, logvar = torch.randn(64, 3), torch.full((64, 3), -2.0)
    >>> z = mu + torch.exp(0.5 * logvar) * torch.randn(64, 3)
    >>> parts = tc_decomposition(z, mu, logvar, dataset_size=10_000)
    >>> sorted(vars(parts))
    ['dimension_wise_kl', 'index_code_mi', 'total_correlation']
    """
    _check_inputs(z, mu, logvar, dataset_size, method, "tc_decomposition", validate)
    log_q_cond, log_q, log_prod = _log_q_both(z, mu, logvar, dataset_size, method)
    log_p = (-0.5 * (_LOG_2PI + z.square())).sum(-1)
    return TCDecomposition(
        index_code_mi=(log_q_cond - log_q).mean(),
        total_correlation=(log_q - log_prod).mean(),
        dimension_wise_kl=(log_prod - log_p).mean(),
    )
