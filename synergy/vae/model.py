"""The convolutional encoder and decoder of the Non-Synergistic VAE reference code (64x64).

``encode`` gives the Gaussian posterior's ``(mu, logvar)``; ``decode`` gives Bernoulli logits.
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'synergy.vae needs torch: pip install "synergy[vae]" (after installing a torch build '
        "for your platform)"
    ) from exc

__all__ = ["VAE", "Decoder", "Encoder", "reparameterize"]


class Encoder(nn.Module):
    """Four stride-2 convolutions and two linear layers: ``(B, 1, 64, 64) -> (mu, logvar)``.

    Parameters
    ----------
    z_dim : int
        Number of latent dimensions (10 in the reference).

    Notes
    -----
    Conv(1->32), Conv(32->32), Conv(32->64), Conv(64->64), all kernel 4, stride 2, padding 1, each
    followed by ReLU; flatten to 1024; Linear(1024->128); Linear(128->2 z_dim). The reference has
    no non-linearity between the two linear layers, and neither does this copy.
    """

    def __init__(self, z_dim: int = 10) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(1024, 128),
            nn.Linear(128, 2 * z_dim),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.net(x)
        return stats[:, : self.z_dim], stats[:, self.z_dim :]


class Decoder(nn.Module):
    """The encoder's mirror: ``(B, z_dim) -> logits (B, 1, 64, 64)``.

    Parameters
    ----------
    z_dim : int
        Number of latent dimensions (10 in the reference); must match the encoder's.

    Notes
    -----
    Linear(z->128), ReLU, Linear(128->1024), ReLU, reshape to 64x4x4, then ConvTranspose2d to 64,
    32, 32 and 1 channels (kernel 4, stride 2, padding 1) with ReLU between them. The output is
    logits of independent Bernoulli pixels.
    """

    def __init__(self, z_dim: int = 10) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(z_dim, 128), nn.ReLU(), nn.Linear(128, 1024), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 64, 4, 4))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Draw ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` from torch's global RNG."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class VAE(nn.Module):
    """Encoder, decoder and the reparameterisation between them.

    Parameters
    ----------
    z_dim : int
        Number of latent dimensions.

    Examples
    --------
    >>> model = VAE(z_dim=10)
    >>> logits, mu, logvar, z = model(torch.zeros(2, 1, 64, 64))
    >>> logits.shape, mu.shape
    (torch.Size([2, 1, 64, 64]), torch.Size([2, 10]))
    """

    def __init__(self, z_dim: int = 10) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.encoder = Encoder(z_dim)
        self.decoder = Decoder(z_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``(B, z_dim)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits ``(B, 1, 64, 64)``."""
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, mu, logvar, z)`` with ``z`` a reparameterised sample."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar, z
