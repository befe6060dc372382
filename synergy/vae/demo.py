"""A short Non-Syn VAE run on a small procedural dSprites grid that writes its pictures.

What ``synergy-vae demo`` and ``make demo`` run: a minute or two on two CPU cores.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DEMO_CONFIG", "run_demo"]

# Small enough to train in about a minute on 2 CPU cores: 3 shapes x 3 scales x 8
# orientations x 8 x 8 positions (4,608 images), batch 32. The learning rate is 5x the
# recipe's so that the pictures show structure after a few hundred steps.
DEMO_CONFIG: dict[str, Any] = {
    "model": "nonsyn",
    "steps": 400,
    "batch_size": 32,
    "lr": 5e-4,
    "grid": "scale=3,orientation=8,posX=8,posY=8",
    "log_every": 10,
    "checkpoint_every": 200,
    # One thread: two OpenMP threads on a busy 2-core machine ran 10-20x slower in our tests.
    "threads": 1,
}


def run_demo(
    out: str | os.PathLike[str] = "runs/demo",
    *,
    steps: int = 400,
    overwrite: bool = False,
    progress: bool = True,
) -> list[str]:
    """Train the demo model into ``out`` and draw its pictures; returns the files written.

    Parameters
    ----------
    out : path
        Output directory (refused if it holds files, unless ``overwrite``).
    steps : int
        Training steps.
    overwrite : bool
        Write into a non-empty ``out`` (nothing is deleted).
    progress : bool
        Show the progress bar.

    Returns
    -------
    list of str
        ``checkpoint.pt``, ``log.jsonl`` and the PNGs: ``traversals.png``, ``losses.png``,
        ``activations.png``.

    Examples
    --------
    Not run here: it trains for a minute or two. Training the demo model into
    ``runs/demo`` and drawing its pictures returns the paths of the five files:

    >>> from synergy.vae import run_demo
    >>> files = run_demo("runs/demo", progress=False)  # doctest: +SKIP
    >>> [os.path.basename(f) for f in files]  # doctest: +SKIP
    ['checkpoint.pt', 'log.jsonl', 'traversals.png', 'losses.png', 'activations.png']
    """
    from synergy.vae.plots import plot_run
    from synergy.vae.training import TrainConfig, train

    settings = {**DEMO_CONFIG, "steps": steps, "out": os.fspath(out), "progress": progress}
    config = TrainConfig(**settings)
    train(config, overwrite=overwrite)
    pictures = plot_run(config.out, n_points=2_000)
    files = [os.path.join(config.out, name) for name in ("checkpoint.pt", "log.jsonl")]
    return [*files, *pictures]
