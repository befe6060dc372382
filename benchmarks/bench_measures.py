"""Speed of the registered PID measures against dit: full two-source decompositions per table.

Run as ``python benchmarks/bench_measures.py`` (``--quick`` for a smoke run); writes
benchmarks/results/measures.md and prints the same markdown section.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from synergy.pid.registry import lattice_decomposition

RESULTS = Path(__file__).resolve().parent / "results" / "measures.md"
MEASURES = ("mmi", "sx", "pm", "gk", "ccs", "dep")
GOAL = {"mmi": 1000, "sx": 1000, "pm": 1000, "gk": 1000, "ccs": 100, "dep": 100}


def _median_seconds(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _dit_distribution(table: np.ndarray) -> Any:
    import dit

    outcomes = [tuple(int(i) for i in idx) for idx in np.ndindex(table.shape) if table[idx] > 0]
    return dit.Distribution(outcomes, [float(table[idx]) for idx in outcomes])


def _dit_classes() -> dict[str, Any]:
    from dit.pid import PID_CCS, PID_GK, PID_MMI, PID_PM, PID_SX, PID_dep

    return {
        "mmi": PID_MMI,
        "sx": PID_SX,
        "pm": PID_PM,
        "gk": PID_GK,
        "ccs": PID_CCS,
        "dep": PID_dep,
    }


def _dit_atoms(pid: Any) -> np.ndarray:
    """dit's four two-source atoms in redundancy_lattice(2).nodes order."""
    atoms = {frozenset(frozenset(e) for e in node): v for node, v in pid._pis.items()}
    order = [((0,), (1,)), ((0,),), ((1,),), ((0, 1),)]
    return np.array([atoms[frozenset(frozenset(e) for e in node)] for node in order])


def main(quick: bool = False) -> str:
    """Run the comparison in this process and return (and write) a markdown section."""
    import dit

    rng = np.random.default_rng(0)
    n_batch = 2_000 if quick else 20_000
    n_dit = 5 if quick else 20
    repeats = 3 if quick else 5
    load_before = os.getloadavg()
    tables = rng.dirichlet(np.ones(8), size=n_batch).reshape(n_batch, 2, 2, 2)
    dists = [_dit_distribution(t) for t in tables[:n_dit]]
    classes = _dit_classes()
    rows = []
    for name in MEASURES:
        batch = lattice_decomposition(name, tables, batch_ndim=1)  # warm-up
        batch_seconds = _median_seconds(
            lambda n=name: lattice_decomposition(n, tables, batch_ndim=1), repeats
        )
        single_seconds = float(
            np.median(
                [
                    _median_seconds(lambda t=t, n=name: lattice_decomposition(n, t), repeats)
                    for t in tables[:n_dit]
                ]
            )
        )
        dit_times, error = [], 0.0
        for b, d in enumerate(dists):
            start = time.perf_counter()
            pid = classes[name](d)
            dit_times.append(time.perf_counter() - start)
            error = max(error, float(np.abs(_dit_atoms(pid) - batch.atom_values[b]).max()))
        dit_seconds = float(np.median(dit_times))
        per_table = batch_seconds / n_batch
        rows.append((name, per_table, single_seconds, dit_seconds, error))
    load_after = os.getloadavg()

    command = "python benchmarks/bench_measures.py" + (" --quick" if quick else "")
    lines = [
        "## Registered PID measures against dit (full two-source decomposition)",
        "",
        f"Command: `{command}` (from the repository root, the project's .venv). "
        f"Python {platform.python_version()}, numpy {np.__version__}, dit {dit.__version__}, "
        f"{os.cpu_count()} cores. Load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after"
        + (
            " (other work was running on the machine: medians, but expect noise)."
            if max(load_before[0], load_after[0]) > 1.5
            else "."
        ),
        "",
        f"Random 2x2x2 tables (Dirichlet(1) over 8 cells). synergy batched: one "
        f"`lattice_decomposition(name, tables, batch_ndim=1)` call on {n_batch:,} tables, "
        f"median of {repeats} runs after a warm-up, divided by the batch size. synergy single: "
        f"median over {n_dit} tables of one-table calls. dit: `dit.pid.PID_<measure>(d)` per "
        f"table, median over the same {n_dit} tables (building the distributions is not timed). "
        "Speed-up = dit per table / synergy batched per table; the goal is 1000x for closed "
        "forms and 100x for ccs and dep.",
        "",
        "| measure | synergy batched per table | synergy single table | dit per table "
        "| speed-up (batched) | speed-up (single) | goal | max abs atom difference (bits) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, per_table, single, dit_seconds, error in rows:
        lines.append(
            f"| `{name}` | {per_table * 1e6:.2f} us | {single * 1e3:.3f} ms "
            f"| {dit_seconds * 1e3:.2f} ms | {dit_seconds / per_table:,.0f}x "
            f"| {dit_seconds / single:,.0f}x | {GOAL[name]:,}x | {error:.1e} |"
        )
    section = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(section)
    return section


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
