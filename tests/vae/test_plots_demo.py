"""Pictures of a run and the demo command: files appear and have the promised layout."""

from __future__ import annotations

import json

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
