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


def _ends(values: np.ndarray) -> list[str]:
    return [f"{values[0]:.3g}", f"{values[-1]:.3g}"]


def plot_mean_activations(
    activations: dict[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    shapes: Sequence[int] = (0, 1, 2),
    kl: Sequence[float] | None = None,
    values: dict[str, np.ndarray] | None = None,
) -> str:
    """Latent-vs-factor picture: per latent, position heat map, scale and orientation curves.

    Every panel shares one scale (the largest mean in absolute value, over all latents), so
    an inactive latent looks flat and pale beside an active one; a colour bar gives the heat
    maps' scale and the curves share the same y axis.

    Parameters
    ----------
    activations : dict
        From :func:`synergy.vae.metrics.mean_activations`.
    path : str or os.PathLike
        Where the PNG goes.
    shapes : sequence of int
        Full-grid shape classes of the rows of ``activations["scale"]`` (labels).
    kl : sequence of float, optional
        KL of each latent to the prior (nats), written beside its row.
    values : dict of str to ndarray, optional
        Factor values of the grid's classes, keyed ``"posX"``, ``"posY"``, ``"scale"`` and
        ``"orientation"`` (radians; drawn in degrees), for the axes' ticks; class indices
        where missing.

    Returns
    -------
    str
        ``path``.
    """
    pos, scale, orient = activations["position"], activations["scale"], activations["orientation"]
    dims = pos.shape[-1]
    given = values or {}
    x_values = given.get("posX", np.arange(pos.shape[0]))
    y_values = given.get("posY", np.arange(pos.shape[1]))
    s_values = given.get("scale", np.arange(scale.shape[1]))
    o_values = (
        np.degrees(given["orientation"]) if "orientation" in given else np.arange(orient.shape[1])
    )
    finite = np.concatenate([a[np.isfinite(a)] for a in (pos, scale, orient)])
    limit = float(np.abs(finite).max()) if finite.size else 0.0
    limit = limit or 1.0
    fig = _figure(9.0, 1.1 * dims + 1.2)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(
        dims, 3, squeeze=False, sharey="col", gridspec_kw={"width_ratios": [1.0, 1.7, 1.7]}
    )
    image = None
    for j in range(dims):
        heat, s_ax, o_ax = axes[j]
        image = heat.imshow(
            pos[:, :, j].T, cmap="RdBu_r", vmin=-limit, vmax=limit, origin="upper", aspect="auto"
        )
        heat.set_xticks([0, pos.shape[0] - 1], _ends(x_values), fontsize=7)
        heat.set_yticks([0, pos.shape[1] - 1], _ends(y_values), fontsize=7)
        label = f"z{j}" if kl is None else f"z{j}\nKL {kl[j]:.2f}"
        heat.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        for ax, x, curves in ((s_ax, s_values, scale), (o_ax, o_values, orient)):
            ax.axhline(0.0, color="0.8", linewidth=0.8)
            for k in range(curves.shape[0]):
                name = _SHAPES[shapes[k]] if k < len(shapes) else str(k)
                ax.plot(x, curves[k, :, j], marker=".", markersize=3, label=name)
            ax.set_ylim(-1.05 * limit, 1.05 * limit)
            ax.set_yticks([-limit, 0.0, limit], [f"{-limit:.2g}", "0", f"{limit:.2g}"])
            ax.tick_params(labelsize=7)
        o_ax.tick_params(labelleft=False)
        if j < dims - 1:
            for ax in axes[j]:
                ax.tick_params(labelbottom=False)
    bottom = axes[-1]
    bottom[0].set_xlabel("posX (rows: posY)", fontsize=8)
    bottom[1].set_xlabel("scale", fontsize=8)
    bottom[2].set_xlabel(
        "orientation (degrees)" if "orientation" in given else "orientation", fontsize=8
    )
    axes[0, 0].set_title("position", fontsize=9)
    axes[0, 1].set_title("scale", fontsize=9)
    axes[0, 2].set_title("orientation", fontsize=9)
    axes[0, 2].legend(fontsize=6, loc="upper right")
    fig.colorbar(
        image,
        ax=axes.ravel().tolist(),
        shrink=min(1.0, 6.0 / dims),
        label="mean of the posterior mean (all panels)",
    )
    kl_note = "; KL per latent to the prior in nats" if kl is not None else ""
    fig.suptitle(f"mean latent activation against each factor{kl_note}", fontsize=9)
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

    from synergy.vae.data import FACTOR_NAMES, factor_values
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
    encode = model_encoder(model, data)
    posteriors: list[tuple[np.ndarray, np.ndarray]] = []

    def encode_and_keep(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, logvar = encode(indices)
        posteriors.append((mu, logvar))
        return mu, logvar

    with torch.no_grad():
        grids = mean_activations(encode_and_keep, data, n_points=n_points, seed=seed)
    mu, logvar = posteriors[0]
    # The closed-form Gaussian KL to N(0, 1), per latent, averaged over the encoded images.
    kl = (0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)
    all_values = factor_values()
    values = {
        name: all_values[i][data.classes[i]]
        for i, name in enumerate(FACTOR_NAMES)
        if name in ("scale", "orientation", "posX", "posY")
    }
    paths.append(
        plot_mean_activations(
            grids,
            os.path.join(run, "activations.png"),
            shapes=data.classes[1].tolist(),
            kl=kl.tolist(),
            values=values,
        )
    )
    return paths
