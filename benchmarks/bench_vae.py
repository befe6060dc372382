"""Training steps per second of synergy.vae's models against a plain PyTorch beta-VAE step.

Same architecture, same batch (64 images of the procedural dSprites replica), same process; the
variants are timed in interleaved rounds and compared by their median step time.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from synergy.vae.model import VAE
from synergy.vae.training import TrainConfig, Trainer

BATCH = 64
COMMAND = "python benchmarks/bench_vae.py"


def plain_betavae_step(model: VAE, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> None:
    """The baseline: a beta-VAE step written directly in PyTorch (no synergy code)."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = model.decode(z)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    loss = recon + 4.0 * kl
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _variants(x: torch.Tensor) -> dict[str, Callable[[], object]]:
    out: dict[str, Callable[[], object]] = {}
    torch.manual_seed(0)
    model = VAE(10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    out["plain PyTorch beta-VAE"] = lambda: plain_betavae_step(model, opt, x)
    specs = [
        ("vae", {"model": "vae"}),
        ("betavae", {"model": "betavae"}),
        ("btcvae (mss)", {"model": "btcvae"}),
        ("factorvae", {"model": "factorvae"}),
        ("nonsyn fused", {"model": "nonsyn", "update": "fused"}),
        ("nonsyn reference", {"model": "nonsyn", "update": "reference"}),
    ]
    for name, kw in specs:
        cfg = TrainConfig(**kw, batch_size=BATCH, grid="posX=4,posY=4", progress=False)
        trainer = Trainer(cfg)
        trainer.next_batch = lambda: x  # type: ignore[method-assign]  # same data for all
        out[name] = trainer.train_step
    return out


def main(quick: bool = False) -> str:
    # One thread: on a shared 2-core machine two threads mostly measure the neighbours.
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    from synergy.vae.data import DSprites

    data = DSprites(factors={"posX": 8, "posY": 8})
    picks = torch.randint(0, len(data), (BATCH,), generator=torch.Generator().manual_seed(0))
    x = data.batch(picks.numpy())
    variants = _variants(x)
    rounds, per_round = (4, 2) if quick else (30, 2)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up
        fn()
    load_before = os.getloadavg()[0]
    order = list(variants.items())
    shuffle = random.Random(0)
    for _ in range(rounds):
        shuffle.shuffle(order)  # no variant always runs right after the same neighbour
        for name, fn in order:
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            times[name].append((time.perf_counter() - start) / per_round)
    load_after = os.getloadavg()[0]
    base = statistics.median(times["plain PyTorch beta-VAE"])
    lines = [
        "## synergy.vae training steps (CPU, batch 64, 64x64 images, z = 10)",
        "",
        f"Command: `{COMMAND}`{' (quick)' if quick else ''}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {rounds} interleaved rounds of {per_round} steps, "
        "median step time per variant. Every variant trains the same architecture on the same "
        "batch; the baseline is a beta-VAE step written directly in PyTorch.",
        "",
        "| variant | median step (ms) | steps/s | time vs plain beta-VAE |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(f"| {name} | {med * 1e3:.1f} | {1 / med:.2f} | {med / base:.2f}x |")
    busy = max(load_before, load_after) > (os.cpu_count() or 1)
    lines += [
        "",
        f"Load average (1 min) {load_before:.1f} before and {load_after:.1f} after on "
        f"{os.cpu_count()} cores"
        + (": other jobs were running, so treat the ratios as rough." if busy else "."),
        "Goals: fused Non-Syn within 5% of the plain step; the reference update (two Adam steps, "
        "two backward passes through the encoder) within 60%. `vae` and `betavae` do the same "
        "work as the plain step, so their ratios show the noise floor of this run.",
    ]
    section = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "vae.md"), "w") as f:
        f.write(section)
    return section


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv))
