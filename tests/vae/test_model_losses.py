"""The reference architecture and the functional losses of synergy.vae."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from synergy.vae.losses import (  # noqa: E402
    Discriminator,
    discriminator_loss,
    factorvae_loss,
    kl_divergence,
    nonsyn_penalty,
    permute_dims,
    reconstruction_loss,
    vae_loss,
)
from synergy.vae.model import VAE  # noqa: E402


def test_architecture_shapes_and_parameter_count():
    model = VAE(z_dim=10)
    x = torch.zeros(3, 1, 64, 64)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 10)
    assert model.decode(mu).shape == (3, 1, 64, 64)
    enc = sum(p.numel() for p in model.encoder.parameters())
    dec = sum(p.numel() for p in model.decoder.parameters())
    # Counted by hand from DESIGN.md's layer list (weights + biases).
    conv = (1 * 32 * 16 + 32) + (32 * 32 * 16 + 32) + (32 * 64 * 16 + 64) + (64 * 64 * 16 + 64)
    assert enc == conv + (1024 * 128 + 128) + (128 * 20 + 20)
    deconv = (64 * 64 * 16 + 64) + (64 * 32 * 16 + 32) + (32 * 32 * 16 + 32) + (32 * 1 * 16 + 1)
    assert dec == (10 * 128 + 128) + (128 * 1024 + 1024) + deconv
    # No non-linearity between the encoder's two linear layers, as in the reference.
    layers = list(model.encoder.net)
    assert isinstance(layers[-1], torch.nn.Linear)
    assert isinstance(layers[-2], torch.nn.Linear)


def test_reconstruction_is_summed_over_pixels_and_averaged_over_batch():
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 8, 8)
    x = (torch.rand(4, 1, 8, 8) > 0.5).float()
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).sum() / 4
    torch.testing.assert_close(reconstruction_loss(logits, x), manual)


def test_kl_closed_form_and_beta_weight():
    torch.manual_seed(1)
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    total, per_dim = kl_divergence(mu, logvar)
    # DESIGN.md: KL = 0.5 * sum_j (mu^2 + exp(logvar) - 1 - logvar), mean over the batch.
    manual = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    torch.testing.assert_close(per_dim, manual.mean(0))
    torch.testing.assert_close(total, manual.sum(1).mean())
    x = torch.zeros(5, 1, 4, 4)
    logits = torch.zeros(5, 1, 4, 4)
    one = vae_loss(x, logits, mu, logvar)
    four = vae_loss(x, logits, mu, logvar, beta=4.0)
    torch.testing.assert_close(four.loss - one.loss, 3 * total)


def test_nonsyn_penalty_is_alpha_times_worst_set_kl():
    mu = torch.tensor([[3.0, 0.1, 2.0, 0.0], [3.0, -0.1, 2.0, 0.0]])
    logvar = torch.zeros(2, 4)
    terms = nonsyn_penalty(mu, logvar, alpha=5.0, omega=0.9)
    worst = sorted(terms.terms["worst"].tolist())
    best = sorted(terms.terms["best"].tolist())
    assert sorted(best + worst) == [0, 1, 2, 3]
    per_dim = 0.5 * mu**2
    torch.testing.assert_close(terms.loss, 5.0 * per_dim[:, worst].sum(1).mean())


def test_permute_dims_shuffles_each_column_independently():
    z = torch.arange(40.0).view(10, 4)
    gen = torch.Generator().manual_seed(0)
    out = permute_dims(z, generator=gen)
    for j in range(4):
        torch.testing.assert_close(out[:, j].sort().values, z[:, j])
    assert not torch.equal(out, z)


def test_factorvae_terms_and_discriminator_loss():
    torch.manual_seed(2)
    disc = Discriminator(z_dim=3, hidden=16, layers=3)
    z = torch.randn(8, 3)
    x = torch.zeros(8, 1, 4, 4)
    terms = factorvae_loss(x, torch.zeros_like(x), z, torch.zeros(8, 3), z, disc, gamma=2.0)
    d = disc(z)
    torch.testing.assert_close(terms.terms["tc"], (d[:, 0] - d[:, 1]).mean())
    loss = discriminator_loss(disc, z, torch.randn(8, 3))
    assert loss.ndim == 0
    assert torch.isfinite(loss)


def test_thin_modules_match_the_functions():
    from synergy.vae.losses import BetaTCVAELoss, NonSynLoss, VAELoss, betatcvae_loss, nonsyn_loss

    torch.manual_seed(3)
    x = (torch.rand(6, 1, 8, 8) > 0.5).float()
    logits, mu, logvar = torch.randn(6, 1, 8, 8), torch.randn(6, 4), torch.randn(6, 4)
    z = mu + torch.randn(6, 4)
    torch.testing.assert_close(
        VAELoss(2.0)(x, logits, mu, logvar).loss, vae_loss(x, logits, mu, logvar, beta=2.0).loss
    )
    torch.testing.assert_close(
        NonSynLoss(5.0, 0.9)(x, logits, mu, logvar).loss,
        nonsyn_loss(x, logits, mu, logvar, alpha=5.0, omega=0.9).loss,
    )
    torch.testing.assert_close(
        BetaTCVAELoss(100)(x, logits, mu, logvar, z).loss,
        betatcvae_loss(x, logits, mu, logvar, z, dataset_size=100).loss,
    )
    terms = nonsyn_loss(x, logits, mu, logvar, alpha=5.0, omega=0.9).terms
    torch.testing.assert_close(
        terms["elbo"] + terms["penalty"], terms["recon"] + terms["kl"] + terms["penalty"]
    )


def test_discriminator_starts_as_1konnys_normal_init():
    # 1Konny/FactorVAE model.py, normal_init: Linear weights ~ N(0, 0.02), biases 0; the
    # default gamma is that code's dSprites setting (README: --gamma 6.4).
    import inspect

    from synergy.vae.training import TrainConfig

    torch.manual_seed(0)
    disc = Discriminator(z_dim=10)
    linears = [m for m in disc.net if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 6
    for layer in linears:
        assert torch.count_nonzero(layer.bias) == 0
    hidden = linears[1].weight  # 1e6 draws: the sample std is within 0.1% of 0.02
    assert float(hidden.std()) == pytest.approx(0.02, rel=0.01)
    assert abs(float(hidden.mean())) < 1e-4
    assert TrainConfig().factor_gamma == 6.4
    assert inspect.signature(factorvae_loss).parameters["gamma"].default == 6.4
