"""Pictures of a VAE run as PNG files: latent traversals, loss curves, latent-vs-factor means.

matplotlib is imported lazily, through its object API (no pyplot, no backend switch).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from synergy.vae.data import DSprites

__all__ = [
    "plot_losses",
    "plot_mean_activations",
    "plot_run",
    "plot_traversals",
    "traversal_grid",
]


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'synergy.vae plots need matplotlib: pip install "synergy[plot]"'
        ) from exc
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    return path


def traversal_grid(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    n_steps: int = 10,
    limit: float = 3.0,
) -> np.ndarray:
    """Pixels of a traversal picture: originals, reconstructions, one row per latent.

    Parameters
    ----------
    model : VAE
        Anything with ``encode`` and ``decode``.
    images : Tensor, shape (n_steps, 1, 64, 64)
        Row 0 shows them; row 1 their reconstructions (decoded means); the traversals start
        from the first image's posterior mean.
    n_steps : int
        Columns: values of each latent, evenly spaced in ``[-limit, limit]``.
    limit : float
        The traversal range, in prior standard deviations.

    Returns
    -------
    ndarray of float, shape (2 + D, n_steps, 64, 64)
        Probabilities in [0, 1].
    """
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = images[:n_steps]
        mu, _ = model.encode(x)  # type: ignore[operator]
        recon = torch.sigmoid(model.decode(mu))  # type: ignore[operator]
        values = torch.linspace(-limit, limit, n_steps, dtype=mu.dtype)
        rows = []
        for j in range(mu.shape[1]):
            z = mu[:1].repeat(n_steps, 1)
            z[:, j] = values
            rows.append(torch.sigmoid(model.decode(z)))  # type: ignore[operator]
    model.train(was_training)
    pad = n_steps - len(x)
    top = torch.cat([x, torch.zeros(pad, *x.shape[1:])]) if pad > 0 else x
    mid = torch.cat([recon, torch.zeros(pad, *recon.shape[1:])]) if pad > 0 else recon
    grid = torch.stack([top, mid, *rows])[:, :, 0]
    return grid.double().cpu().numpy()


def plot_traversals(
    model: torch.nn.Module,
    images: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    n_steps: int = 10,
    limit: float = 3.0,
    title: str = "",
) -> str:
    """Write the traversal picture of :func:`traversal_grid` to ``path``; returns the path."""
    grid = traversal_grid(model, images, n_steps=n_steps, limit=limit)
    n_rows, n_cols, h, w = grid.shape
    mosaic = np.ones((n_rows * (h + 2), n_cols * (w + 2)))
    for r in range(n_rows):
        for c in range(n_cols):
            mosaic[
                r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w
            ] = grid[r, c]
    fig = _figure(1.0 + 0.6 * n_cols, 0.3 + 0.6 * n_rows)
    ax = fig.add_axes((0.12, 0.02, 0.86, 0.9 if title else 0.96))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * (h + 2) + h / 2 for r in range(n_rows)])
    ax.set_yticklabels(["input", "recon", *[f"z{j}" for j in range(n_rows - 2)]])
    ax.tick_params(length=0)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_losses(log_path: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
    """Loss curves from a run's ``log.jsonl``: reconstruction, KL (+ penalty), per-dim KL."""
    from synergy.vae.training import read_log

    records = read_log(log_path)
    steps = [r["step"] for r in records]
    fig = _figure(12, 3.4)
    axes = fig.subplots(1, 3)
    axes[0].plot(steps, [r["recon"] for r in records])
    axes[0].set_title("reconstruction (nats)")
    axes[1].plot(steps, [r["kl"] for r in records], label="KL")
    for key in ("penalty", "tc", "mi", "dwkl"):
        if records and key in records[0]:
            axes[1].plot(steps, [r[key] for r in records], label=key)
    axes[1].set_title("KL and penalties (nats)")
    axes[1].legend(fontsize=8)
    per_dim = np.array([r["kl_per_dim"] for r in records]) if records else np.zeros((0, 0))
    for j in range(per_dim.shape[1] if per_dim.ndim == 2 else 0):
        axes[2].plot(steps, per_dim[:, j], label=f"z{j}")
    axes[2].set_title("KL per latent (nats)")
    axes[2].legend(fontsize=6, ncol=2)
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    return _save(fig, path)


_SHAPES = ("square", "ellipse", "heart")


def plot_mean_activations(
    activations: dict[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    shapes: Sequence[int] = (0, 1, 2),
) -> str:
    """Latent-vs-factor picture: per latent, position heat map, scale and orientation curves.

    Parameters
    ----------
    activations : dict
        From :func:`synergy.vae.metrics.mean_activations`.
    shapes : sequence of int
        Full-grid shape classes of the rows of ``activations["scale"]`` (labels).
    """
    pos, scale, orient = activations["position"], activations["scale"], activations["orientation"]
    dims = pos.shape[-1]
    fig = _figure(7.5, 1.3 * dims + 0.6)
    axes = fig.subplots(dims, 3, squeeze=False)
    for j in range(dims):
        axes[j, 0].imshow(pos[:, :, j].T, cmap="RdBu_r", origin="upper")
        axes[j, 0].set_ylabel(f"z{j}", rotation=0, labelpad=14)
        for s in range(scale.shape[0]):
            label = _SHAPES[shapes[s]] if s < len(shapes) else str(s)
            axes[j, 1].plot(scale[s, :, j], label=label)
            axes[j, 2].plot(orient[s, :, j], label=label)
        for ax in axes[j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("position")
    axes[0, 1].set_title("scale")
    axes[0, 2].set_title("orientation")
    axes[0, 2].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


def plot_run(
    run: str | os.PathLike[str],
    *,
    data: DSprites | None = None,
    n_points: int | None = 5_000,
    seed: int = 0,
) -> list[str]:
    """Draw the three pictures of a finished run directory into it; returns their paths.

    Parameters
    ----------
    run : path
        A run directory written by :func:`synergy.vae.train` (it needs ``checkpoint.pt``;
        the loss curves are drawn only if ``log.jsonl`` is there).
    data : DSprites, optional
        The images to draw and encode; default: the run's own dataset (its ``data`` and
        ``grid`` settings).
    n_points : int or None, default 5000
        Images sampled for the mean activations; None: every image of ``data``.
    seed : int, default 0
        Seeds the choice of the traversed images and of the sampled points.

    Returns
    -------
    list of str
        Paths of the PNGs written into ``run``: ``traversals.png`` (originals,
        reconstructions and one traversal row per latent), ``losses.png`` (the curves of
        ``log.jsonl``, if present) and ``activations.png`` (mean latent activation against
        position, scale and orientation, from :func:`synergy.vae.mean_activations`).

    Examples
    --------
    Not run here: it needs a trained run (see :func:`synergy.vae.train`) and takes seconds
    to draw. For the run directory ``runs/vae``:

    >>> from synergy.vae import plot_run
    >>> [os.path.basename(p) for p in plot_run("runs/vae")]  # doctest: +SKIP
    ['traversals.png', 'losses.png', 'activations.png']
    """
    import torch

    from synergy.vae.metrics import mean_activations, model_encoder
    from synergy.vae.training import load_run

    run = os.fspath(run)
    model, run_data, state = load_run(run)
    config = state["config"]
    data = run_data if data is None else data
    rng = np.random.default_rng(seed)
    images = data.batch(rng.choice(len(data), size=min(10, len(data)), replace=False))
    paths = [
        plot_traversals(
            model,
            images,
            os.path.join(run, "traversals.png"),
            title=f"{config['model']} after {state['step']} steps",
        )
    ]
    log = os.path.join(run, "log.jsonl")
    if os.path.isfile(log):
        paths.append(plot_losses(log, os.path.join(run, "losses.png")))
    with torch.no_grad():
        grids = mean_activations(model_encoder(model, data), data, n_points=n_points, seed=seed)
    paths.append(
        plot_mean_activations(
            grids, os.path.join(run, "activations.png"), shapes=data.classes[1].tolist()
        )
    )
    return paths
