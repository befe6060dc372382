"""``synergy-vae`` as a command-line tool: one-line errors, a summary, pictures, defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synergy.vae import cli  # noqa: E402
from synergy.vae.training import TrainConfig, _torch_threads, train  # noqa: E402

GRID = "posX=2,posY=2,scale=2,orientation=2"
TINY = ["--grid", GRID, "--batch-size", "8", "--z-dim", "3", "--no-progress", "--threads", "1"]


def _tiny_run(tmp_path, name="run", steps=2):
    out = tmp_path / name
    train(
        TrainConfig(
            grid=GRID, batch_size=8, z_dim=3, progress=False, threads=1, steps=steps, out=str(out)
        )
    )
    return out


def _main(capsys, *argv):
    """Run the CLI in-process: (exit code, stdout, stderr), argparse's exits included."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_flag_values_are_one_line(tmp_path, capsys):
    code, _, err = _main(capsys, "train", "--steps", "abc")
    _assert_one_line_error(code, err, "--steps", "'abc'")
    code, _, err = _main(capsys, "train", "--steps", "0", "--out", tmp_path / "x")
    _assert_one_line_error(code, err, "`steps`", "positive int")
    code, _, err = _main(capsys, "train", "--model", "gan")
    _assert_one_line_error(code, err, "--model")


def test_non_empty_output_directory_is_one_line(tmp_path, capsys):
    out = _tiny_run(tmp_path)
    code, _, err = _main(capsys, "train", "--out", out, "--steps", "3", *TINY)
    _assert_one_line_error(code, err, "--resume", "--overwrite")


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _main(capsys, "train", "--resume", "--out", empty, *TINY)
    _assert_one_line_error(code, err, "checkpoint.pt")
    for command in ("plot", "evaluate"):
        code, _, err = _main(capsys, command, "--out", empty)
        _assert_one_line_error(code, err, "checkpoint.pt")


def test_resume_with_another_config_is_one_line(tmp_path, capsys):
    out = _tiny_run(tmp_path)
    code, _, err = _main(
        capsys, "train", "--resume", "--out", out, "--steps", "3", "--alpha", "1", *TINY
    )
    _assert_one_line_error(code, err, "alpha=1.0 (saved 5.0)")


def test_damaged_checkpoint_is_one_line(tmp_path, capsys):
    out = _tiny_run(tmp_path)
    ckpt = out / "checkpoint.pt"
    blob = bytearray(ckpt.read_bytes())
    for i in np.random.default_rng(0).choice(len(blob), size=32, replace=False):
        blob[i] ^= 0xFF  # 32 flipped bytes
    ckpt.write_bytes(bytes(blob))
    code, _, err = _main(capsys, "train", "--resume", "--out", out, "--steps", "3", *TINY)
    _assert_one_line_error(code, err, str(ckpt))


def test_the_installed_entry_point_prints_no_traceback(tmp_path):
    out = _tiny_run(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "synergy.vae", "train", "--out", str(out), *TINY],
        capture_output=True,
        text=True,
    )
    _assert_one_line_error(done.returncode, done.stderr, "holds files")


def test_without_torch_the_command_names_the_extra():
    # torch hidden: `import torch` raises ModuleNotFoundError, as in an environment without it.
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from synergy.vae.cli import main\n"
        "raise SystemExit(main(['train', '--steps', '1']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert 'pip install "synergy[vae]"' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_train_ends_with_a_summary_and_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = _main(capsys, "train", "--out", out, "--steps", "3", *TINY)
    assert code == 0, err
    assert "Traceback" not in err
    assert "nonsyn: step 3 of 3" in stdout
    assert "final losses (nats, step 3): loss " in stdout
    assert f"files in {out}: " in stdout
    for name in ("traversals.png", "losses.png", "activations.png", "checkpoint.pt"):
        assert name in stdout
        assert (out / name).exists()


def test_no_plots_skips_the_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _main(capsys, "train", "--out", out, "--steps", "2", "--no-plots", *TINY)
    assert code == 0
    assert not [n for n in os.listdir(out) if n.endswith(".png")]
    assert "files in" in stdout


def test_plot_and_evaluate_take_the_run_as_train_names_it(tmp_path, capsys):
    out = _tiny_run(tmp_path)
    code, stdout, _ = _main(capsys, "plot", "--out", out)
    assert code == 0
    assert (out / "activations.png").exists()
    assert str(out / "traversals.png") in stdout
    code, _, _ = _main(capsys, "evaluate", "--out", out, "--n-points", "40", "--n-votes", "10")
    assert code == 0
    assert (out / "metrics.json").exists()
    code, _, _ = _main(capsys, "evaluate", out, "--n-points", "40", "--n-votes", "10")
    assert code == 0
    code, _, err = _main(capsys, "plot", out, "--out", tmp_path / "other")
    _assert_one_line_error(code, err, "two run directories")


def test_warnings_are_one_line_too(tmp_path, capsys):
    out = _tiny_run(tmp_path)
    with open(out / "log.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 3, "lo')  # a log line cut short by a kill
    code, _, err = _main(
        capsys, "train", "--resume", "--out", out, "--steps", "3", "--no-plots", *TINY
    )
    assert code == 0
    assert "Traceback" not in err
    assert "synergy-vae: warning: " in err
    assert "cut short" in err


def test_log_interval_scales_with_the_run(tmp_path):
    assert TrainConfig().log_every == 0
    # 0 means about 200 lines per run: every step up to 200 steps.
    assert [TrainConfig(steps=n).log_interval() for n in (1, 100, 200, 399, 1000)] == [
        1,
        1,
        1,
        1,
        5,
    ]
    assert TrainConfig(steps=1000, log_every=50).log_interval() == 50
    out = _tiny_run(tmp_path, steps=5)
    assert len((out / "log.jsonl").read_text().splitlines()) == 5


def test_threads_default_is_half_the_usable_cpus(monkeypatch):
    from synergy._validate import InvalidParameterError

    assert TrainConfig().threads == 0
    for cpus, threads in ((1, 1), (2, 1), (3, 1), (8, 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)))
        assert _torch_threads(0) == threads
    assert _torch_threads(3) == 3
    with pytest.raises(InvalidParameterError, match="`threads`"):
        TrainConfig(threads=-1)
    with pytest.raises(InvalidParameterError, match="`log_every`"):
        TrainConfig(log_every=-1)


def test_evaluate_defaults_to_the_published_protocols(capsys):
    # Chen's MIG over every image ("auto") and disentanglement_lib's 10,000/5,000 FactorVAE
    # votes (None) are synergy.vae.metrics' defaults; the command must not shrink them.
    args = cli.build_parser().parse_args(["evaluate", "runs/x"])
    assert args.n_points == "auto"
    assert args.n_votes is None
    assert cli.build_parser().parse_args(["evaluate", "x", "--n-points", "all"]).n_points is None
    assert cli.build_parser().parse_args(["evaluate", "x", "--n-points", "500"]).n_points == 500
    for bad in ("0", "many"):
        code, _, err = _main(capsys, "evaluate", "x", "--n-points", bad)
        _assert_one_line_error(code, err, "--n-points")
