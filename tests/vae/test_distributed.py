"""Data-parallel training under torchrun: two CPU processes (gloo) keep identical parameters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from synergy.vae.training import load_checkpoint  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from synergy.vae.training import TrainConfig, train

    out = sys.argv[1]
    cfg = TrainConfig(model="nonsyn", steps=3, batch_size=4, grid="posX=2,posY=2,scale=2",
                      out=out, progress=False, log_every=1, threads=1)
    trainer = train(cfg)
    rank = torch.distributed.get_rank()
    torch.save(trainer.model.state_dict(), os.path.join(os.path.dirname(out), f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()
    """
)


@pytest.mark.slow
def test_two_processes_stay_in_sync(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
        str(tmp_path / "run"),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    ckpt = load_checkpoint(str(tmp_path / "run"))
    assert ckpt["world_size"] == 2
    assert len(ckpt["rng"]) == 2
    for name in a:
        assert torch.equal(a[name], b[name]), name
        assert torch.equal(a[name], ckpt["model"][name]), name
    # The ranks drew different batches: their sampler states differ.
    assert ckpt["rng"][0]["sampler"] != ckpt["rng"][1]["sampler"]
