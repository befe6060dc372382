"""The trainer: config and CLI, update rules, logs, checkpoints and exact resume."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synergy._validate import InvalidParameterError  # noqa: E402
from synergy.vae import cli  # noqa: E402
from synergy.vae.training import TrainConfig, Trainer, load_checkpoint, train  # noqa: E402

# Tiny runs: 4 positions, 2 scales, 2 orientations; batch 8; a handful of steps.
TINY = {
    "grid": "posX=2,posY=2,scale=2,orientation=2",
    "batch_size": 8,
    "progress": False,
    "log_every": 1,
    "threads": 1,
}


def tiny(tmp_path, name="run", **kw):
    return TrainConfig(**{**TINY, "out": str(tmp_path / name), **kw})


def test_config_defaults_are_the_reference_recipe():
    cfg = TrainConfig()
    assert (cfg.z_dim, cfg.lr, cfg.adam_beta1, cfg.adam_beta2) == (10, 1e-4, 0.9, 0.999)
    assert (cfg.batch_size, cfg.alpha, cfg.omega, cfg.update) == (64, 5.0, 0.9, "reference")
    with pytest.raises(InvalidParameterError, match="`model`"):
        TrainConfig(model="gan")
    with pytest.raises(InvalidParameterError, match="`grid`"):
        TrainConfig(grid="posX")
    with pytest.raises(InvalidParameterError, match="`omega`"):
        TrainConfig(omega=0.0)
    assert TrainConfig(grid="posX=8, posY=4").factors() == {"posX": 8, "posY": 4}


def test_cli_flags_come_from_the_config():
    args = cli.build_parser().parse_args(
        ["train", "--model", "betavae", "--beta", "2", "--no-progress", "--batch-size", "16"]
    )
    cfg = cli.config_from_args(args)
    assert (cfg.model, cfg.beta, cfg.progress, cfg.batch_size) == ("betavae", 2.0, False, 16)
    assert cfg.lr == TrainConfig().lr


@pytest.mark.parametrize("update", ["reference", "sequential", "fused"])
def test_two_step_updates_take_two_adam_steps_and_move_the_decoder(tmp_path, update):
    trainer = Trainer(tiny(tmp_path, update=update))
    before = [p.detach().clone() for p in trainer.model.decoder.parameters()]
    trainer.train_step()
    steps = {int(trainer.optimizer.state[p]["step"]) for p in trainer.params}
    assert steps == ({1} if update == "fused" else {2})
    moved = [
        not torch.equal(a, b)
        for a, b in zip(before, trainer.model.decoder.parameters(), strict=True)
    ]
    assert all(moved)


def test_sequential_update_equals_two_manual_adam_steps(tmp_path):
    from synergy.estimators.gaussian import non_synergy_penalty

    cfg = tiny(tmp_path, update="sequential")
    trainer = Trainer(cfg)
    manual = Trainer(cfg)  # same seed: same weights, same sampler
    noise = torch.get_rng_state()
    trainer.train_step()
    torch.set_rng_state(noise)  # same reparameterisation noise
    x = manual.next_batch()
    logits, mu, logvar, _ = manual.model(x)
    recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 8
    kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1).mean()
    penalty, _ = non_synergy_penalty(mu, logvar, alpha=cfg.alpha, omega=cfg.omega)
    g1 = torch.autograd.grad(recon + kl, manual.params, retain_graph=True)
    g2 = torch.autograd.grad(penalty, manual.params, allow_unused=True)
    for p, g in zip(manual.params, g1, strict=True):
        p.grad = g
    manual.optimizer.step()
    for p, g in zip(manual.params, g2, strict=True):
        p.grad = torch.zeros_like(p) if g is None else g
    manual.optimizer.step()
    for a, b in zip(trainer.params, manual.params, strict=True):
        # Steps are ~lr = 1e-4 per parameter, so 1e-6 still tells a missing step apart.
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["vae", "betavae", "btcvae", "factorvae", "nonsyn"])
def test_every_model_trains_and_logs(tmp_path, model):
    trainer = train(tiny(tmp_path, model=model, steps=2))
    assert trainer.step == 2
    lines = [json.loads(s) for s in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2]
    assert len(lines[-1]["kl_per_dim"]) == 10
    for key in ("recon", "kl", "loss"):
        assert lines[-1][key] == pytest.approx(lines[-1][key])  # finite, not NaN
    if model == "nonsyn":
        assert sorted(lines[-1]["best"] + lines[-1]["worst"]) == list(range(10))
        assert "penalty" in lines[-1]
    state = load_checkpoint(str(tmp_path / "run"))
    assert state["step"] == 2
    assert state["config"]["model"] == model


def test_same_seed_same_result(tmp_path):
    a = train(tiny(tmp_path, "a", steps=2))
    b = train(tiny(tmp_path, "b", steps=2))
    for p, q in zip(a.params, b.params, strict=True):
        assert torch.equal(p, q)


def _assert_same_state(a, b):
    for (name, p), q in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    for k in sa:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[k][key], sb[k][key])
    assert a.sampler.bit_generator.state == b.sampler.bit_generator.state


@pytest.mark.parametrize("model", ["nonsyn", "factorvae"])
def test_stop_and_resume_is_bit_identical(tmp_path, model):
    whole = train(tiny(tmp_path, "whole", model=model, steps=4))
    train(tiny(tmp_path, "split", model=model, steps=2))
    resumed = train(tiny(tmp_path, "split", model=model, steps=4), resume=True)
    assert resumed.step == 4
    _assert_same_state(whole, resumed)
    if model == "factorvae":
        for p, q in zip(
            whole.discriminator.parameters(), resumed.discriminator.parameters(), strict=True
        ):
            assert torch.equal(p, q)
    lines = [
        json.loads(s)["step"] for s in (tmp_path / "split" / "log.jsonl").read_text().splitlines()
    ]
    assert lines == [1, 2, 3, 4]


def test_ctrl_c_saves_at_a_step_boundary_and_resumes_exactly(tmp_path, monkeypatch):
    whole = train(tiny(tmp_path, "whole", steps=4))
    original = Trainer.train_step

    def interrupted(self):
        terms = original(self)
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only raises a flag
        return terms

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, "split", steps=4))
    monkeypatch.setattr(Trainer, "train_step", original)
    assert load_checkpoint(str(tmp_path / "split"))["step"] == 2
    resumed = train(tiny(tmp_path, "split", steps=4), resume=True)
    _assert_same_state(whole, resumed)


def test_output_directory_is_never_wiped(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidParameterError, match="--resume"):
        train(tiny(tmp_path, "busy", steps=1))
    with pytest.raises(InvalidParameterError, match=r"checkpoint\.pt"):
        train(tiny(tmp_path, "busy", steps=1), resume=True)
    train(tiny(tmp_path, "busy", steps=1), overwrite=True)
    assert (out / "notes.txt").read_text() == "keep me"
    with pytest.raises(InvalidParameterError, match="alpha"):
        train(tiny(tmp_path, "busy", steps=2, alpha=1.0), resume=True)


def test_checkpoint_is_plain_checksummed_and_atomic(tmp_path):
    import hashlib
    import io

    train(tiny(tmp_path, steps=1))
    names = os.listdir(tmp_path / "run")
    assert "checkpoint.pt" in names
    assert not [n for n in names if n.endswith(".tmp")]
    blob = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    # Formats 2 and 3: a magic line, a "sha256 <hex>" line, then the torch.save bytes it covers.
    magic, checksum, payload = blob.split(b"\n", 2)
    assert magic == b"synergy.vae checkpoint"
    assert checksum == b"sha256 " + hashlib.sha256(payload).hexdigest().encode()
    state = torch.load(io.BytesIO(payload), weights_only=True)
    assert state["format"] == 3
    assert isinstance(state["version"], str)


def _flip_bytes(blob, seed, count=32):
    rng = np.random.default_rng(seed)
    data = bytearray(blob)
    for i in rng.choice(len(data), size=count, replace=False):
        data[i] ^= int(rng.integers(1, 256))
    return bytes(data)


def test_checkpoint_with_flipped_bytes_is_refused(tmp_path):
    train(tiny(tmp_path, steps=2))
    ckpt = tmp_path / "run" / "checkpoint.pt"
    good = ckpt.read_bytes()
    for seed in range(33):  # 33 damaged copies, as in the report of issue 10
        ckpt.write_bytes(_flip_bytes(good, seed))
        with pytest.raises(InvalidParameterError, match=r"checkpoint\.pt") as info:
            load_checkpoint(str(ckpt))
        assert "load_checkpoint" in str(info.value)
    ckpt.write_bytes(_flip_bytes(good, 0))
    with pytest.raises(InvalidParameterError, match=r"SHA-256|checksum|start"):
        train(tiny(tmp_path, steps=4), resume=True)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda blob: b"", "is empty"),
        (lambda blob: blob[: len(blob) // 2], "SHA-256"),
        (lambda blob: blob[:40], "checksum line"),
        (lambda blob: np.random.default_rng(0).bytes(len(blob)), "does not start"),
        (lambda blob: b"PK\x03\x04" + blob[4:1000], "torch cannot read"),
    ],
    ids=["empty", "half", "header-only", "random-bytes", "zip-garbage"],
)
@pytest.mark.filterwarnings("ignore:.*before checkpoints carried a checksum")
def test_damaged_checkpoint_gets_the_library_message(tmp_path, damage, message):
    train(tiny(tmp_path, steps=1))
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    with pytest.raises(InvalidParameterError, match=message) as info:
        load_checkpoint(str(tmp_path / "run"))
    assert str(ckpt) in str(info.value)


def test_missing_checkpoint_gets_the_library_message(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"checkpoint\.pt"):
        load_checkpoint(str(tmp_path))


def test_checkpoint_from_before_checksums_loads_with_a_warning(tmp_path):
    # "sequential": format 1's "reference" was this rule (see the format-2 test below).
    whole = train(tiny(tmp_path, "whole", steps=3, update="sequential"))
    split = train(tiny(tmp_path, "split", steps=2, update="sequential"))
    # What format 1 wrote: torch.save of the bare state, no header.
    state = split.state_dict()
    state["format"] = 1
    ckpt = tmp_path / "split" / "checkpoint.pt"
    torch.save(state, ckpt)
    with pytest.warns(UserWarning, match="before checkpoints carried a checksum"):
        assert load_checkpoint(str(ckpt))["step"] == 2
    with pytest.warns(UserWarning, match="before checkpoints carried a checksum"):
        resumed = train(tiny(tmp_path, "split", steps=3, update="sequential"), resume=True)
    _assert_same_state(whole, resumed)
    assert ckpt.read_bytes().startswith(b"synergy.vae checkpoint\n")


def test_checkpoint_from_a_newer_format_is_refused(tmp_path):
    trainer = train(tiny(tmp_path, steps=1))
    from synergy.vae.training import save_checkpoint

    state = trainer.state_dict()
    state["format"] = 99
    save_checkpoint(state, str(tmp_path / "run" / "checkpoint.pt"))
    with pytest.raises(InvalidParameterError, match="newer synergy"):
        load_checkpoint(str(tmp_path / "run"))


def test_start_removes_unfinished_checkpoint_writes(tmp_path):
    train(tiny(tmp_path, steps=1))
    stale = tmp_path / "run" / ".checkpoint-abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    (tmp_path / "run" / "keep.tmp").write_text("not ours")
    train(tiny(tmp_path, steps=2), resume=True)
    assert not stale.exists()
    assert (tmp_path / "run" / "keep.tmp").exists()


def test_overwrite_moves_the_previous_run_aside(tmp_path):
    out = tmp_path / "run"
    train(tiny(tmp_path, steps=3))
    (out / "notes.txt").write_text("keep me")
    old_log = (out / "log.jsonl").read_text()
    train(tiny(tmp_path, steps=1), overwrite=True)
    assert (out / "previous-1" / "log.jsonl").read_text() == old_log
    assert len(old_log.splitlines()) == 3
    assert load_checkpoint(str(out / "previous-1"))["step"] == 3
    assert len((out / "log.jsonl").read_text().splitlines()) == 1
    assert (out / "notes.txt").read_text() == "keep me"
    train(tiny(tmp_path, steps=2), overwrite=True)
    assert load_checkpoint(str(out / "previous-2"))["step"] == 1
    assert load_checkpoint(str(out))["step"] == 2


def test_resume_drops_a_torn_last_log_line(tmp_path):
    whole = train(tiny(tmp_path, "whole", steps=4))
    train(tiny(tmp_path, "split", steps=2))
    log = tmp_path / "split" / "log.jsonl"
    with open(log, "a", encoding="utf-8") as f:
        f.write('{"step": 3, "loss": 71')  # a write killed half-way
    with pytest.warns(UserWarning, match="cut short"):
        resumed = train(tiny(tmp_path, "split", steps=4), resume=True)
    _assert_same_state(whole, resumed)
    assert log.read_text() == (tmp_path / "whole" / "log.jsonl").read_text()


def test_resume_refuses_a_damaged_log_line_before_the_last(tmp_path):
    train(tiny(tmp_path, steps=3))
    log = tmp_path / "run" / "log.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0] + "garbage\n" + "".join(lines[1:]))
    with pytest.raises(InvalidParameterError, match="line 2"):
        train(tiny(tmp_path, steps=4), resume=True)


def test_cli_train_runs(tmp_path):
    out = tmp_path / "cli"
    code = cli.main(
        [
            "train",
            "--model",
            "vae",
            "--steps",
            "1",
            "--out",
            str(out),
            "--no-progress",
            "--grid",
            TINY["grid"],
            "--batch-size",
            "4",
            "--no-plots",
        ]
    )
    assert code == 0
    assert (out / "checkpoint.pt").exists()


def test_a_format_2_reference_run_resumes_only_as_the_sequential_rule(tmp_path):
    # Format 2 wrote update="reference" for the rule now called "sequential" (today's Adam,
    # both gradients at the pre-step parameters): resuming it under the 0.4.1 rule would
    # silently change the run half-way, so the config check names the field instead.
    from synergy.vae.training import save_checkpoint

    whole = train(tiny(tmp_path, "whole", steps=3, update="sequential"))
    split = train(tiny(tmp_path, "split", steps=2, update="sequential"))
    state = split.state_dict()
    state["format"] = 2
    state["config"] = {**state["config"], "update": "reference"}
    save_checkpoint(state, str(tmp_path / "split" / "checkpoint.pt"))
    with pytest.raises(InvalidParameterError, match=r"update='reference' \(saved 'sequential'\)"):
        train(tiny(tmp_path, "split", steps=3), resume=True)
    resumed = train(tiny(tmp_path, "split", steps=3, update="sequential"), resume=True)
    _assert_same_state(whole, resumed)
    # Other models ignore `update`: their format-2 checkpoints resume as they are.
    plain = train(tiny(tmp_path, "plain", steps=1, model="vae"))
    state = plain.state_dict()
    state["format"] = 2
    save_checkpoint(state, str(tmp_path / "plain" / "checkpoint.pt"))
    assert train(tiny(tmp_path, "plain", steps=2, model="vae"), resume=True).step == 2
