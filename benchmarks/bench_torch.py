"""Benchmark of synergy.torch's closed forms: forward, forward + backward, and the numpy batch.

Run: ``python benchmarks/bench_torch.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/torch.md`` and prints the same markdown section. The ratio the issue
cares about is forward + backward over forward alone on a batch of small tables.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import synergy
import synergy.pid
import synergy.torch as st

RESULTS = Path(__file__).resolve().parent / "results" / "torch.md"

MEASURES: list[tuple[str, Callable[..., object], Callable[..., object]]] = [
    ("mutual_information", st.mutual_information, synergy.mutual_information),
    ("wms", st.wms, synergy.pid.wms),
    ("s_max", st.s_max, synergy.pid.s_max),
    ("i_min", st.i_min, synergy.pid.i_min),
]


def _median(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: numba loads its cache, torch allocates
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def _row(name: str, f_t: Callable[..., object], f_n: Callable[..., object], n: int, reps: int):
    rng = np.random.default_rng(0)
    tables = rng.dirichlet(np.ones(8), size=n).reshape(n, 2, 2, 2)
    x = torch.tensor(tables, requires_grad=True)

    def forward(validate: bool) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return f_t(x, batch_ndim=1, validate=validate)

        return run

    def forward_backward(validate: bool) -> Callable[[], object]:
        def run() -> object:
            x.grad = None
            out = f_t(x, batch_ndim=1, validate=validate)
            out.sum().backward()  # type: ignore[attr-defined]
            return x.grad

        return run

    def graph_only() -> object:  # forward that records the graph, as in training
        return f_t(x, batch_ndim=1, validate=False)

    numpy = _median(lambda: f_n(tables, batch_ndim=1), reps)
    fwd = _median(forward(False), reps)
    fwd_graph = _median(graph_only, reps)
    fwd_bwd = _median(forward_backward(False), reps)
    fwd_bwd_checked = _median(forward_backward(True), reps)
    return (name, n, numpy, fwd, fwd_graph, fwd_bwd, fwd_bwd_checked)


def main(quick: bool = False) -> str:
    sizes, reps = ([1, 1024], 5) if quick else ([1, 1024, 65536], 9)
    # On a shared, oversubscribed machine torch's intra-op threads spin against each other
    # (a log over 8,192 cells took 23 ms on 2 threads, 0.04 ms on 1): time one thread.
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    rows = [_row(name, f_t, f_n, n, reps) for name, f_t, f_n in MEASURES for n in sizes]
    load_after = os.getloadavg()[0]
    lines = [
        "## synergy.torch: closed-form measures with gradients",
        "",
        f"Command: `python benchmarks/bench_torch.py{' --quick' if quick else ''}`. "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), numpy {np.__version__}, {os.cpu_count()} cores. "
        f"Load average {load_before:.2f} before and {load_after:.2f} after.",
        "",
        f"Batches of n random 2x2x2 tables (float64, CPU), medians of {reps} runs after a "
        "warm-up. numpy: the synergy.pid / synergy function on the same batch. fwd: torch "
        "forward under no_grad; fwd (graph): forward recording the autograd graph; fwd+bwd: "
        "forward, then backward of the sum; all with validate=False except the last column.",
        "",
        "| measure | n | numpy | fwd | fwd (graph) | fwd+bwd | fwd+bwd, validate | "
        "fwd+bwd / fwd (graph) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, numpy, fwd, graph, fb, fbc in rows:
        lines.append(
            f"| {name} | {n} | {numpy * 1e3:.3f} ms | {fwd * 1e3:.3f} ms | {graph * 1e3:.3f} ms "
            f"| {fb * 1e3:.3f} ms | {fbc * 1e3:.3f} ms | {fb / graph:.2f} |"
        )
    if max(load_before, load_after) > (os.cpu_count() or 1):
        lines += ["", "The machine was busy (load above the core count): expect noise."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    return text


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
