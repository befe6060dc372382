"""Training objectives of the VAE family as functions of a batch's tensors, plus thin modules.

VAE / beta-VAE, beta-TCVAE, FactorVAE and the Non-Synergistic VAE; the information terms come
from ``synergy.estimators``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BetaTCVAELoss",
    "Discriminator",
    "LossTerms",
    "NonSynLoss",
    "VAELoss",
    "betatcvae_loss",
    "discriminator_loss",
    "factorvae_loss",
    "kl_divergence",
    "nonsyn_loss",
    "nonsyn_penalty",
    "permute_dims",
    "reconstruction_loss",
    "vae_loss",
]


@dataclass(frozen=True)
class LossTerms:
    """A loss to minimise and the named terms it was built from (tensors, for logging).

    Attributes
    ----------
    loss : Tensor, scalar
        What to call ``backward`` on (nats per image).
    terms : dict of str to Tensor
        Its parts: ``recon``, ``kl``, ``kl_per_dim`` (D,) and, by model, ``penalty``, ``tc``,
        ``mi``, ``dwkl``; and for the Non-Syn penalty ``best`` and ``worst`` (index tensors).
    """

    loss: torch.Tensor
    terms: dict[str, Any] = field(default_factory=dict)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood, summed over pixels, mean over the batch (nats).

    Parameters
    ----------
    logits : Tensor, shape (B, ...)
        Decoder output.
    x : Tensor, shape (B, ...)
        Target images in [0, 1].
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def kl_divergence(
    mu: torch.Tensor, logvar: torch.Tensor, *, validate: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """KL of the diagonal Gaussian posterior to N(0, I): total and per dimension.

    Returns
    -------
    total : Tensor, scalar
        Summed over dimensions, mean over the batch (nats).
    per_dim : Tensor, shape (D,)
        The batch mean of each dimension's KL (nats).
    """
    from synergy.estimators.gaussian import kl_per_dim

    per_dim = kl_per_dim(mu, logvar, validate=validate).mean(dim=0)
    return per_dim.sum(), per_dim


def vae_loss(
    x: torch.Tensor,
    logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    beta: float = 1.0,
    validate: bool = True,
) -> LossTerms:
    """Negative ELBO with a weighted KL: ``recon + beta * KL`` (beta = 1 is the plain VAE).

    References
    ----------
    Kingma & Welling (2014); Higgins et al., "beta-VAE", ICLR 2017.
    """
    recon = reconstruction_loss(logits, x)
    kl, per_dim = kl_divergence(mu, logvar, validate=validate)
    return LossTerms(recon + beta * kl, {"recon": recon, "kl": kl, "kl_per_dim": per_dim})


def betatcvae_loss(
    x: torch.Tensor,
    logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    z: torch.Tensor,
    *,
    dataset_size: int,
    alpha: float = 1.0,
    beta: float = 6.0,
    gamma: float = 1.0,
    method: str = "mss",
    validate: bool = True,
) -> LossTerms:
    """beta-TCVAE: ``recon + alpha * MI(x; z) + beta * TC(z) + gamma * dimension-wise KL``.

    The three terms are minibatch estimates (minibatch stratified or weighted sampling) from
    :func:`synergy.estimators.minibatch.tc_decomposition`.

    References
    ----------
    Chen, Li, Grosse & Duvenaud, "Isolating sources of disentanglement in VAEs", NeurIPS 2018.
    """
    from synergy.estimators.minibatch import tc_decomposition

    recon = reconstruction_loss(logits, x)
    kl, per_dim = kl_divergence(mu, logvar, validate=validate)
    parts = tc_decomposition(
        z,
        mu,
        logvar,
        dataset_size=dataset_size,
        method=method,  # type: ignore[arg-type]
        validate=validate,
    )
    mi, tc, dwkl = parts.index_code_mi, parts.total_correlation, parts.dimension_wise_kl
    loss = recon + alpha * mi + beta * tc + gamma * dwkl
    terms = {"recon": recon, "kl": kl, "kl_per_dim": per_dim, "mi": mi, "tc": tc, "dwkl": dwkl}
    return LossTerms(loss, terms)


def nonsyn_penalty(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    alpha: float = 5.0,
    omega: float = 0.9,
    validate: bool = True,
) -> LossTerms:
    """The Non-Syn penalty alone: ``alpha`` times the KL of the greedily chosen worst latent set.

    See :func:`synergy.estimators.gaussian.non_synergy_penalty` for the greedy subset rule.
    ``terms`` holds ``penalty``, ``best``, ``worst`` and the graph-attached ``kl_per_sample``
    (B, D), which :func:`nonsyn_loss` reuses for the ELBO's KL.

    References
    ----------
    Barrientos, "Non-Synergistic Variational Autoencoders", LXAI @ NeurIPS 2018.
    """
    from synergy.estimators.gaussian import non_synergy_penalty

    penalty, info = non_synergy_penalty(mu, logvar, alpha=alpha, omega=omega, validate=validate)
    terms = {
        "penalty": penalty,
        "best": info.best,
        "worst": info.worst,
        "kl_per_sample": info.kl_per_dim,
    }
    return LossTerms(penalty, terms)


def nonsyn_loss(
    x: torch.Tensor,
    logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    alpha: float = 5.0,
    omega: float = 0.9,
    validate: bool = True,
) -> LossTerms:
    """Non-Synergistic VAE: ``recon + KL + alpha * KL(worst latent set)``.

    ``loss`` is the sum (what the ``fused`` update minimises); ``terms["elbo"]`` (recon + KL)
    and ``terms["penalty"]`` are the two losses the ``reference`` update steps on in turn.
    """
    recon = reconstruction_loss(logits, x)
    pen = nonsyn_penalty(mu, logvar, alpha=alpha, omega=omega, validate=validate)
    per_sample = pen.terms.pop("kl_per_sample")
    per_dim = per_sample.mean(dim=0)
    kl = per_dim.sum()
    elbo = recon + kl
    terms = {"recon": recon, "kl": kl, "kl_per_dim": per_dim, "elbo": elbo, **pen.terms}
    return LossTerms(elbo + pen.loss, terms)


class Discriminator(nn.Module):
    """FactorVAE's total-correlation discriminator: an MLP from ``z`` to two logits.

    Logit 0 means "a sample of q(z)", logit 1 "a sample of prod_j q(z_j)" (permuted dimensions).
    Six layers of 1000 units with LeakyReLU(0.2), as in Kim & Mnih (2018), appendix. Weights
    start from N(0, 0.02^2) and biases from 0, as 1Konny's FactorVAE code (``normal_init`` in
    its ``model.py``) and the Non-Syn VAE code built on it initialise the discriminator.
    """

    def __init__(self, z_dim: int = 10, hidden: int = 1000, layers: int = 6) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = z_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*blocks)
        for module in self.net:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def permute_dims(z: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle each latent dimension independently across the batch: samples of prod_j q(z_j)."""
    batch, dims = z.shape
    keys = torch.rand(batch, dims, generator=generator, device=z.device)
    order = keys.argsort(dim=0)
    return torch.gather(z, 0, order)


def factorvae_loss(
    x: torch.Tensor,
    logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    z: torch.Tensor,
    discriminator: nn.Module,
    *,
    gamma: float = 6.4,
    validate: bool = True,
) -> LossTerms:
    """FactorVAE's VAE side: ``recon + KL + gamma * TC``, TC from the discriminator's logits.

    ``gamma`` defaults to 6.4, the dSprites setting of 1Konny's FactorVAE code (its README's
    ``--gamma 6.4``), the reference the Non-Syn VAE paper compared with; Kim & Mnih (2018)
    sweep gamma on dSprites rather than fixing one value.

    Notes
    -----
    TC ~ E_q(z)[log D(z) / (1 - D(z))] = mean(logit_0 - logit_1) (density-ratio trick).

    References
    ----------
    Kim & Mnih, "Disentangling by factorising", ICML 2018.
    """
    recon = reconstruction_loss(logits, x)
    kl, per_dim = kl_divergence(mu, logvar, validate=validate)
    d = discriminator(z)
    tc = (d[:, 0] - d[:, 1]).mean()
    terms = {"recon": recon, "kl": kl, "kl_per_dim": per_dim, "tc": tc}
    return LossTerms(recon + kl + gamma * tc, terms)


def discriminator_loss(
    discriminator: nn.Module, z: torch.Tensor, z_other: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of telling ``z`` (class 0) from permuted ``z_other`` (class 1), detached."""
    d_true = discriminator(z.detach())
    d_perm = discriminator(permute_dims(z_other.detach()))
    zeros = torch.zeros(len(z), dtype=torch.long, device=z.device)
    ones = torch.ones(len(z_other), dtype=torch.long, device=z.device)
    return 0.5 * (F.cross_entropy(d_true, zeros) + F.cross_entropy(d_perm, ones))


# Thin modules over the functions, for code that composes losses as nn.Modules.


class VAELoss(nn.Module):
    """``vae_loss`` as a module: ``VAELoss(beta)(x, logits, mu, logvar) -> LossTerms``."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(
        self, x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> LossTerms:
        return vae_loss(x, logits, mu, logvar, beta=self.beta)


class BetaTCVAELoss(nn.Module):
    """``betatcvae_loss`` as a module; ``forward(x, logits, mu, logvar, z) -> LossTerms``."""

    def __init__(
        self,
        dataset_size: int,
        *,
        alpha: float = 1.0,
        beta: float = 6.0,
        gamma: float = 1.0,
        method: str = "mss",
    ) -> None:
        super().__init__()
        self.dataset_size = dataset_size
        self.alpha, self.beta, self.gamma, self.method = alpha, beta, gamma, method

    def forward(
        self,
        x: torch.Tensor,
        logits: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        z: torch.Tensor,
    ) -> LossTerms:
        return betatcvae_loss(
            x,
            logits,
            mu,
            logvar,
            z,
            dataset_size=self.dataset_size,
            alpha=self.alpha,
            beta=self.beta,
            gamma=self.gamma,
            method=self.method,
        )


class NonSynLoss(nn.Module):
    """``nonsyn_loss`` as a module: ``NonSynLoss(alpha, omega)(x, logits, mu, logvar)``."""

    def __init__(self, alpha: float = 5.0, omega: float = 0.9) -> None:
        super().__init__()
        self.alpha, self.omega = alpha, omega

    def forward(
        self, x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> LossTerms:
        return nonsyn_loss(x, logits, mu, logvar, alpha=self.alpha, omega=self.omega)
