"""synergy.vae: a small, faithful Non-Synergistic VAE trainer on dSprites, with baselines.

Data, model, losses, metrics, plots and the trainer; torch loads only where it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "VAE",
    "DSprites",
    "Decoder",
    "Encoder",
    "TrainConfig",
    "evaluate_run",
    "factor_vae_score",
    "mean_activations",
    "mig",
    "plot_run",
    "run_demo",
    "train",
]

_WHERE = {
    "DSprites": "data",
    "Decoder": "model",
    "Encoder": "model",
    "VAE": "model",
    "TrainConfig": "training",
    "train": "training",
    "run_demo": "demo",
    "mig": "metrics",
    "evaluate_run": "metrics",
    "plot_run": "plots",
    "factor_vae_score": "metrics",
    "mean_activations": "metrics",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import synergy.vae` (and the CLI's --help) does not pay for torch.
    if name in _WHERE:
        return getattr(importlib.import_module(f"synergy.vae.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'synergy.vae' has no attribute {name!r}")
