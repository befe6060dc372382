"""The trainer under SIGKILL: a real process killed in a checkpoint or log write, then resumed.

Each run is a subprocess. A small driver wraps the file the trainer writes, so that the kill
lands at a chosen byte of a chosen write (no sleeps, no races); the resumed run must end with
the same parameters, optimiser state and log as a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from synergy.vae.training import load_checkpoint  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # The driver finds the checkpoint's temporary file through /proc/self/fd.
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)"),
]

# What the driver does in the child: train (or resume) the tiny run described by argv[1],
# killing itself with SIGKILL where argv[2] says ("none", "checkpoint-write:N",
# "checkpoint-rename:N" for the N-th checkpoint, "log-line:S" for the log line of step S).
DRIVER = r"""
import builtins, json, os, signal, sys

import synergy.vae.training as training

settings, where = json.loads(sys.argv[1]), sys.argv[2]
kind, _, arg = where.partition(":")
target = int(arg or 0)


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class HalfThenDie:
    # A file whose `trigger`-th write puts half its bytes on disk, then the process dies.
    def __init__(self, f, trigger):
        self.f, self.trigger, self.writes = f, trigger, 0

    def write(self, data):
        self.writes += 1
        if self.trigger(self.writes, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.fsync(self.f.fileno())
            die()
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


checkpoints = [0]
real_fdopen, real_replace, real_open = os.fdopen, os.replace, builtins.open


def fdopen(fd, *args, **kwargs):
    f = real_fdopen(fd, *args, **kwargs)
    if ".checkpoint-" in os.readlink(f"/proc/self/fd/{fd}"):
        checkpoints[0] += 1
        if kind == "checkpoint-write" and checkpoints[0] == target:
            # Write 1 is the header, write 2 the torch.save bytes: die half-way through them.
            return HalfThenDie(f, lambda n, data: n == 2)
    return f


def replace(src, dst, *args, **kwargs):
    if kind == "checkpoint-rename" and ".checkpoint-" in str(src) and checkpoints[0] == target:
        die()
    return real_replace(src, dst, *args, **kwargs)


def open_(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    if kind == "log-line" and str(file).endswith("log.jsonl") and "a" in mode:
        return HalfThenDie(f, lambda n, data: json.loads(data)["step"] == target)
    return f


os.fdopen, os.replace, training.open = fdopen, replace, open_
resume = settings.pop("resume")
training.train(training.TrainConfig(**settings), resume=resume)
"""

TINY = {
    "grid": "posX=2,posY=2,scale=2,orientation=2",
    "batch_size": 8,
    "z_dim": 4,
    "progress": False,
    "log_every": 1,
    "checkpoint_every": 2,
    "threads": 1,
    "steps": 6,
}


def _run(out, where="none", *, resume=False):
    settings = {**TINY, "out": str(out), "resume": resume}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(settings), where],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    done = _run(out)
    assert done.returncode == 0, done.stderr
    return out


def _assert_same_run(a, b):
    sa, sb = load_checkpoint(str(a)), load_checkpoint(str(b))
    assert sa["step"] == sb["step"] == TINY["steps"]
    for name, tensor in sa["model"].items():
        assert torch.equal(tensor, sb["model"][name]), name
    for k, state in sa["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[key], sb["optimizer"]["state"][k][key]), (k, key)
    (ra,), (rb,) = sa["rng"], sb["rng"]
    assert torch.equal(ra["torch"], rb["torch"])
    # numpy's and Python's global generators are carried, not seeded: fresh processes differ.
    assert ra["sampler"] == rb["sampler"]
    assert (a / "log.jsonl").read_text() == (b / "log.jsonl").read_text()


@pytest.mark.parametrize(
    ("where", "saved_step"),
    [
        ("checkpoint-write:2", 2),  # killed half-way through the step-4 checkpoint's bytes
        ("checkpoint-rename:2", 2),  # the step-4 file complete, killed before the rename
        ("log-line:5", 4),  # killed half-way through the log line of step 5
    ],
)
def test_sigkill_then_resume_matches_the_uninterrupted_run(
    tmp_path, uninterrupted, where, saved_step
):
    out = tmp_path / "run"
    killed = _run(out, where)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert load_checkpoint(str(out))["step"] == saved_step
    leftovers = [n for n in os.listdir(out) if n.endswith(".tmp")]
    assert len(leftovers) == (0 if where.startswith("log") else 1)
    log = (out / "log.jsonl").read_text()
    assert not log.endswith("\n") if where.startswith("log") else log.endswith("\n")
    resumed = _run(out, resume=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    if where.startswith("log"):
        assert "cut short" in resumed.stderr
    _assert_same_run(uninterrupted, out)
