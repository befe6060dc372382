"""synergy.vae's public face: the names it promises, and no torch until one is used."""

from __future__ import annotations

import subprocess
import sys

import synergy.vae


def test_all_names_resolve():
    assert sorted(synergy.vae.__all__) == sorted(
        [
            "DSprites",
            "Decoder",
            "Encoder",
            "TrainConfig",
            "VAE",
            "evaluate_run",
            "factor_vae_score",
            "mean_activations",
            "mig",
            "plot_run",
            "run_demo",
            "train",
        ]
    )
    for name in synergy.vae.__all__:
        assert getattr(synergy.vae, name) is not None


def test_import_and_data_do_not_load_torch():
    code = (
        "import sys, synergy.vae\n"
        "from synergy.vae.data import DSprites\n"
        "DSprites(factors={'posX': 2}).images([0, 1])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_entry_point_help():
    done = subprocess.run(
        [sys.executable, "-m", "synergy.vae", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--omega" in done.stdout
    assert "--resume" in done.stdout
