"""Benchmark of the discrete core: entropy of large pmfs and batched mutual information.

Run: ``python benchmarks/bench_core.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/core.md`` and prints the same markdown section.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy
import scipy.stats

import synergy
from synergy import _kernels
from synergy._validate import as_table

RESULTS = Path(__file__).resolve().parent / "results" / "core.md"


def _times(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median wall, median process CPU, fastest wall) in seconds over ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu = time.process_time()
        wall = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), min(walls)


def _numpy_entropy(p: np.ndarray) -> float:
    # The one-liner people write; fine here because the benchmark pmfs have no zero cells.
    return float(-(p * np.log2(p)).sum())


def _entropy_rows(n: int, repeats: int, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    p = rng.random(n)
    p /= p.sum()
    contenders: list[tuple[str, Callable[[], object]]] = [
        ("floor: `np.sum(p)`", lambda: np.sum(p)),
        ("`synergy.entropy(p)`", lambda: synergy.entropy(p)),
        ("`synergy.entropy(p, validate=False)`", lambda: synergy.entropy(p, validate=False)),
        ("validation alone: `as_table(p)`", lambda: as_table(p, func="entropy")),
        (
            "one-pass validation: `_kernels.table_checks`",
            lambda: _kernels.table_checks(p.reshape(1, -1)),
        ),
        (
            "kernel + fused checks: `_kernels.neg_xlogx_rows_checked`",
            lambda: _kernels.neg_xlogx_rows_checked(p.reshape(1, -1)),
        ),
        ("`scipy.stats.entropy(p, base=2)`", lambda: scipy.stats.entropy(p, base=2)),
        ("numpy: `-(p * np.log2(p)).sum()`", lambda: _numpy_entropy(p)),
    ]
    for _, fn in contenders:
        fn()  # warm-up: numba loads its cache (or compiles) on the first call
    timed = [(name, *_times(fn, repeats)) for name, fn in contenders]
    floor = timed[0][1]
    reference = float(scipy.stats.entropy(p, base=2))
    error = abs(float(synergy.entropy(p)) - reference) / reference
    return [
        (n, name, wall, cpu, fastest, wall / floor, error) for name, wall, cpu, fastest in timed
    ]


def _to_dit(table: np.ndarray) -> Any:
    import dit

    outcomes = list(itertools.product(*(range(k) for k in table.shape)))
    return dit.Distribution(outcomes, [float(table[o]) for o in outcomes])


def _batched_mi(n_batch: int, n_dit: int, repeats: int, rng: np.random.Generator) -> dict:
    import dit

    tables = rng.dirichlet(np.ones(8), size=n_batch).reshape(n_batch, 2, 2, 2)
    ours = np.asarray(synergy.mutual_information(tables, batch_ndim=1))  # also the warm-up
    wall, _, _ = _times(lambda: synergy.mutual_information(tables, batch_ndim=1), repeats)
    wall_nv, _, _ = _times(
        lambda: synergy.mutual_information(tables, batch_ndim=1, validate=False), repeats
    )
    rows = tables.reshape(n_batch, 8)

    def fused() -> np.ndarray:
        # What the kernels can do when the marginals are summed inside them.
        return (
            _kernels.marginal_neg_xlogx_rows(rows, (2, 2, 2), (0, 1))
            + _kernels.marginal_neg_xlogx_rows(rows, (2, 2, 2), (2,))
            - _kernels.neg_xlogx_rows(rows)
        )

    fused_error = float(np.max(np.abs(fused() - ours)))
    wall_fused, _, _ = _times(fused, repeats)
    wall_checks, _, _ = _times(lambda: _kernels.table_checks(rows), repeats)
    dists = [_to_dit(t) for t in tables[:n_dit]]

    def dit_loop() -> list[float]:
        return [dit.shannon.mutual_information(d, [0, 1], [2]) for d in dists]

    theirs = dit_loop()
    dit_wall, _, _ = _times(dit_loop, 3)
    return {
        "n_batch": n_batch,
        "n_dit": n_dit,
        "ours_per_table": wall / n_batch,
        "ours_nv_per_table": wall_nv / n_batch,
        "ours_total": wall,
        "fused_per_table": wall_fused / n_batch,
        "checks_per_table": wall_checks / n_batch,
        "fused_error": fused_error,
        "dit_per_table": dit_wall / n_dit,
        "error": float(np.max(np.abs(ours[:n_dit] - np.array(theirs)))),
    }


def _fmt_seconds(s: float) -> str:
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def main(quick: bool = False) -> str:
    import dit

    rng = np.random.default_rng(20240611)
    sizes = [10**5, 10**6] if quick else [10**6, 10**7, 10**8]
    load_before = os.getloadavg()
    rows = []
    for n in sizes:
        repeats = 5 if quick else (5 if n >= 10**8 else 9)
        rows += _entropy_rows(n, repeats, rng)
    batch_rows = 10**4 if quick else 10**5
    cells8 = rng.random((batch_rows, 8))
    cells8 /= cells8.sum(axis=1, keepdims=True)
    synergy.entropy(cells8, batch_ndim=1)
    h8_wall, _, _ = _times(lambda: synergy.entropy(cells8, batch_ndim=1), 9)
    mi = _batched_mi(batch_rows, 60 if quick else 300, 3 if quick else 7, rng)
    load_after = os.getloadavg()
    busy = max(load_before[0], load_after[0]) > 1.5

    command = "python benchmarks/bench_core.py" + (" --quick" if quick else "")
    lines = [
        "## Discrete core: entropy and batched mutual information",
        "",
        f"Command: `{command}` (from the repository root, the project's .venv). "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), dit {dit.__version__}, "
        f"{os.cpu_count()} cores. Load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after"
        + (
            ": other jobs were running on the machine, so wall times are inflated and noisy "
            "(the CPU-time column shows how much of it was ours)."
            if busy
            else "."
        )
        + " `OPENBLAS_CORETYPE` may be set on this machine; it does not matter here (no BLAS "
        "call in these paths).",
        "",
        "### Entropy of one pmf of n cells (uniform random cells, normalised)",
        "",
        ("Median of 5 runs" if quick else "Median of 9 runs (5 at n = 1e8)")
        + " after a warm-up call; ratio = median wall time over "
        "the median of the read-bandwidth floor `np.sum(p)`. The goal is `synergy.entropy` "
        "within 3x of the floor at 1e7 and 1e8 cells. CPU time is summed over threads. "
        "The fused-checks row is the entropy kernel also returning the sum and the count of "
        "negative/NaN/infinite cells from the same pass: what `validate=True` would cost if "
        "validation used it instead of separate numpy passes.",
        "",
        "| n | what | wall (median) | CPU (median) | wall (fastest) | ratio to floor |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for n, name, wall, cpu, fastest, ratio, _ in rows:
        lines.append(
            f"| {n:.0e} | {name} | {_fmt_seconds(wall)} | {_fmt_seconds(cpu)} "
            f"| {_fmt_seconds(fastest)} | {ratio:.1f}x |"
        )
    worst_error = max(r[6] for r in rows)
    lines += [
        "",
        f"`synergy.entropy` agrees with `scipy.stats.entropy` to {worst_error:.1e} (relative) "
        "at every n.",
        "",
        f"### Batched mutual information on {mi['n_batch']:,} random 2x2x2 tables "
        "(Dirichlet(1) over 8 cells)",
        "",
        "synergy: one call `mutual_information(p, batch_ndim=1)` (I(X1,X2; Y): three entropies "
        f"of marginals), median of {3 if quick else 7} runs. "
        "dit: `dit.shannon.mutual_information(d, [0, 1], [2])` "
        f"in a loop over {mi['n_dit']} prebuilt `dit.Distribution`s (building them is not "
        "timed), median of 3 loops, divided by the number of tables. Goal: >= 1000x.",
        "",
        "| what | per table | whole batch |",
        "|---|---:|---:|",
        f"| synergy, validate=True | {mi['ours_per_table'] * 1e9:.0f} ns "
        f"| {_fmt_seconds(mi['ours_total'])} |",
        f"| synergy, validate=False | {mi['ours_nv_per_table'] * 1e9:.0f} ns "
        f"| {_fmt_seconds(mi['ours_nv_per_table'] * mi['n_batch'])} |",
        f"| fused kernels, no validation: `marginal_neg_xlogx_rows` x2 - `neg_xlogx_rows` "
        f"| {mi['fused_per_table'] * 1e9:.0f} ns "
        f"| {_fmt_seconds(mi['fused_per_table'] * mi['n_batch'])} |",
        f"| validation by `_kernels.table_checks` (one pass) "
        f"| {mi['checks_per_table'] * 1e9:.0f} ns "
        f"| {_fmt_seconds(mi['checks_per_table'] * mi['n_batch'])} |",
        f"| dit 2.3 | {mi['dit_per_table'] * 1e6:.0f} us "
        f"| {_fmt_seconds(mi['dit_per_table'] * mi['n_batch'])} (scaled) |",
        "",
        f"Speed-up: {mi['dit_per_table'] / mi['ours_per_table']:,.0f}x with validation "
        f"({mi['dit_per_table'] / mi['ours_nv_per_table']:,.0f}x without). Largest difference "
        f"from dit on the {mi['n_dit']} tables: {mi['error']:.1e} bit (fused kernels against "
        f"the public call: {mi['fused_error']:.1e} bit). The public call spends most of its "
        "time in numpy's sums over the dropped axes, which the fused kernels replace. "
        "For scale, "
        f"`entropy(p, batch_ndim=1)` on {batch_rows:,} tables of 8 cells (the short-row kernel "
        f"alone, with validation) takes {_fmt_seconds(h8_wall)}.",
    ]
    section = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(section)
    return section


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
