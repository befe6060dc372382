"""Training step time of the Non-Syn VAE against the number of torch CPU threads.

Chooses the default of ``TrainConfig.threads``: one process, interleaved rounds, median step
time per thread count, with the load average printed beside the numbers (on a shared machine
the load decides the answer).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import torch

from synergy.vae.training import TrainConfig, Trainer, _torch_threads

COMMAND = "python benchmarks/bench_vae_threads.py [rounds]"


def main(rounds: int = 15) -> str:
    trainer = Trainer(TrainConfig(progress=False, out=os.devnull))  # the default recipe
    counts = sorted({1, 2, os.cpu_count() or 1, _torch_threads(0)})
    load_before = os.getloadavg()[0]
    for _ in range(2):  # warm up every count (thread pools, allocator)
        for n in counts:
            torch.set_num_threads(n)
            trainer.train_step()
    times: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(rounds):
        for n in counts:
            torch.set_num_threads(n)
            start = time.perf_counter()
            trainer.train_step()
            trainer.train_step()
            times[n].append((time.perf_counter() - start) / 2)
    load_after = os.getloadavg()[0]
    base = statistics.median(times[1])
    lines = [
        "## synergy.vae: training step time against torch CPU threads",
        "",
        f"Command: `{COMMAND}`; torch {torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); default "
        f"recipe (nonsyn, reference update, batch 64, z = 10, procedural images); {rounds} "
        "interleaved rounds of 2 steps per thread count in one process; median step time.",
        "",
        "| threads | median step (ms) | steps/s | time vs 1 thread |",
        "|---:|---:|---:|---:|",
    ]
    for n in counts:
        med = statistics.median(times[n])
        auto = " (default: threads=0)" if n == _torch_threads(0) else ""
        lines.append(f"| {n}{auto} | {1000 * med:.1f} | {1 / med:.2f} | {med / base:.2f}x |")
    lines += [
        "",
        f"Load average (1 min) {load_before:.2f} before and {load_after:.2f} after on "
        f"{os.cpu_count()} CPUs.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    report = main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    print(report)
