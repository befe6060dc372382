"""Pictures of a run and the demo command: files appear and have the promised layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from synergy.vae import cli  # noqa: E402
from synergy.vae.model import VAE  # noqa: E402
from synergy.vae.plots import plot_run, traversal_grid  # noqa: E402
from synergy.vae.training import TrainConfig, train  # noqa: E402


def test_traversal_grid_layout():
    torch.manual_seed(0)
    model = VAE(z_dim=4)
    grid = traversal_grid(model, torch.zeros(3, 1, 64, 64), n_steps=5)
    # Rows: originals, reconstructions, one per latent; columns: the traversal values.
    assert grid.shape == (2 + 4, 5, 64, 64)
    assert grid.min() >= 0.0
    assert grid.max() <= 1.0
    assert model.training


def test_plot_run_writes_three_pngs(tmp_path):
    out = tmp_path / "run"
    train(
        TrainConfig(
            steps=2,
            batch_size=4,
            grid="posX=2,posY=2,scale=2,orientation=2",
            out=str(out),
            progress=False,
            log_every=1,
        )
    )
    paths = plot_run(out, n_points=50)
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert names == ["activations.png", "losses.png", "traversals.png"]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_activations_share_one_scale_with_a_colour_bar_and_labels(tmp_path, monkeypatch):
    import synergy.vae.plots as plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or str(path))
    rng = np.random.default_rng(0)
    # Latent 0 is active (means up to 3), latent 1 inactive (means about 0.05): made-up grids
    # with the shapes of mean_activations on a 2 shape x 3 scale x 4 orientation x 2 x 2 grid.
    scale = np.stack([3 * rng.standard_normal((2, 3)), 0.05 * rng.standard_normal((2, 3))], -1)
    orient = np.stack([3 * rng.standard_normal((2, 4)), 0.05 * rng.standard_normal((2, 4))], -1)
    position = np.stack([3 * rng.standard_normal((2, 2)), 0.05 * rng.standard_normal((2, 2))], -1)
    grids = {"scale": scale, "orientation": orient, "position": position}
    values = {"posX": np.array([0.0, 1.0]), "posY": np.array([0.0, 1.0])}
    values |= {"scale": np.array([0.5, 0.7, 1.0]), "orientation": np.array([0.0, 1.0, 2.0, 3.0])}
    plots.plot_mean_activations(grids, tmp_path / "a.png", kl=[2.31, 0.07], values=values)
    (fig,) = figures
    heat_maps = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(heat_maps) == 2
    limit = np.abs(np.concatenate([scale.ravel(), orient.ravel(), position.ravel()])).max()
    for image in heat_maps:  # one scale for both latents, set by the largest mean
        np.testing.assert_allclose(image.get_clim(), (-limit, limit))
    colour_bars = [ax for ax in fig.axes if "posterior mean" in ax.get_ylabel()]
    assert len(colour_bars) == 1
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "z0\nKL 2.31" in labels
    assert "z1\nKL 0.07" in labels
    xlabels = " ".join(ax.get_xlabel() for ax in fig.axes)
    for name in ("posX", "posY", "scale", "orientation (degrees)"):
        assert name in xlabels
    curves = [ax for ax in fig.axes if ax.lines and not ax.images]
    assert {tuple(np.round(ax.get_ylim(), 9)) for ax in curves} == {
        tuple(np.round((-1.05 * limit, 1.05 * limit), 9))
    }
    ticks = [t.get_text() for ax in curves for t in ax.get_xticklabels()]
    assert any(t for t in ticks)


@pytest.mark.slow  # ~30 s on a busy 2-core machine: caches 4,608 images, encodes 2,000
def test_demo_command_runs_briefly(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--steps", "2"]) == 0
    printed = capsys.readouterr().out.split()
    assert any(p.endswith("traversals.png") for p in printed)
    assert (out / "activations.png").exists()


def test_evaluate_command_writes_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    train(
        TrainConfig(
            steps=1,
            batch_size=4,
            z_dim=3,
            grid="posX=2,posY=2,scale=2,orientation=2",
            out=str(out),
            progress=False,
        )
    )
    code = cli.main(["evaluate", str(out), "--n-points", "40", "--n-votes", "10"])
    assert code == 0
    scores = json.loads((out / "metrics.json").read_text())
    assert set(scores) == {"step", "mig_chen", "mig_dlib", "factor_vae_score"}
    for key in ("mig_dlib", "factor_vae_score"):
        assert 0.0 <= scores[key] <= 1.0
    assert json.loads(capsys.readouterr().out) == scores
