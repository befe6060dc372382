"""Speed of synergy.pid against dit: batched closed forms and the I_min lattice, per table.

Run as ``python benchmarks/bench_pid.py`` (``--quick`` for a smoke run); writes
benchmarks/results/pid.md and prints the same markdown section.
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

from synergy.pid import decompose, i_min, s_max, wms

RESULTS = Path(__file__).resolve().parent / "results" / "pid.md"


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


def _dit_measures() -> dict[str, Callable[[Any], float]]:
    """The same three quantities computed by dit's own machinery, one distribution at a time."""
    from dit.pid import PID_WB
    from dit.pid.measures.imin import s_i
    from dit.shannon import mutual_information

    def dit_wms(d: Any) -> float:
        return float(
            mutual_information(d, [0, 1], [2])
            - mutual_information(d, [0], [2])
            - mutual_information(d, [1], [2])
        )

    def dit_s_max(d: Any) -> float:
        # I_max = sum_y p(y) max_i I(Y=y; X_i), with dit's specific information s_i.
        p_y = d.marginal([2])
        union = sum(p_y[y] * max(s_i(d, [0], [2], y), s_i(d, [1], [2], y)) for y in p_y.outcomes)
        return float(mutual_information(d, [0, 1], [2]) - union)

    def dit_i_min(d: Any) -> float:
        # The bottom node only, not the whole lattice: dit's cheapest route to I_min.
        return float(PID_WB._measure(d, [[0], [1]], [2]))

    return {"wms": dit_wms, "s_max": dit_s_max, "i_min": dit_i_min}


def _time_dit_per_table(measure: Callable[[Any], float], dists: list[Any]) -> float:
    times = []
    for d in dists:
        start = time.perf_counter()
        measure(d)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(quick: bool = False) -> str:
    """Run the comparison in this process and return (and write) a markdown section."""
    import dit

    rng = np.random.default_rng(0)
    n_batch = 10_000 if quick else 100_000
    n_dit = 30 if quick else 200
    load_before = os.getloadavg()
    tables = rng.dirichlet(np.ones(8), size=n_batch).reshape(n_batch, 2, 2, 2)
    dists = [_dit_distribution(t) for t in tables[:n_dit]]

    ours: dict[str, Callable[..., Any]] = {"wms": wms, "s_max": s_max, "i_min": i_min}
    theirs = _dit_measures()
    rows = []
    for name, measure in ours.items():
        # Warm-up outside the timings: numba compiles (or loads its cache) on first call.
        batched = measure(tables, batch_ndim=1)
        seconds = _median_seconds(lambda m=measure: m(tables, batch_ndim=1), 3 if quick else 7)
        per_table = seconds / n_batch
        dit_per_table = _time_dit_per_table(theirs[name], dists)
        # Same numbers, not just same speed: check on the dit tables.
        reference = np.array([theirs[name](d) for d in dists[:20]])
        error = float(np.max(np.abs(batched[:20] - reference)))
        rows.append((name, seconds, per_table, dit_per_table, dit_per_table / per_table, error))

    lattice_rows = []
    for n in (2, 8):
        from dit.pid import PID_WB

        shape = (n, n, n)
        sample = rng.dirichlet(np.ones(n**3), size=3 if quick else 10).reshape(-1, *shape)
        decompose(sample[0], "imin")  # warm-up
        ours_s = float(
            np.median(
                [
                    _median_seconds(lambda t=t: decompose(t, "imin"), 5 if quick else 20)
                    for t in sample
                ]
            )
        )
        dit_dists = [_dit_distribution(t) for t in sample]
        dit_s = _time_dit_per_table(PID_WB, dit_dists)
        lattice_rows.append((n, ours_s, dit_s, dit_s / ours_s))
    load_after = os.getloadavg()

    command = "python benchmarks/bench_pid.py" + (" --quick" if quick else "")
    lines = [
        "## synergy.pid against dit",
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
        f"### Closed forms on {n_batch:,} random 2x2x2 tables (Dirichlet(1) over 8 cells)",
        "",
        f"synergy: one batched call (`batch_ndim=1`), median of {3 if quick else 7} runs after a "
        f"warm-up call. dit: median time per table over {n_dit} tables, one call per table on "
        "prebuilt `dit.Distribution`s (building them is not timed). dit's WMS is three "
        "`dit.shannon.mutual_information` calls; its S_max uses dit's specific information "
        "`dit.pid.measures.imin.s_i`; its I_min is `PID_WB._measure` on the bottom node only.",
        "",
        "| measure | synergy, whole batch | synergy per table | dit per table | speed-up "
        "| max abs difference (bits, 20 tables) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds, per_table, dit_per_table, ratio, error in rows:
        lines.append(
            f"| `{name}` | {seconds * 1e3:.1f} ms | {per_table * 1e6:.2f} us "
            f"| {dit_per_table * 1e3:.3f} ms | {ratio:,.0f}x | {error:.1e} |"
        )
    lines += [
        "",
        '### Full I_min decomposition of one table: `decompose(p, "imin")` against '
        "`dit.pid.PID_WB(d)`",
        "",
        "Two sources, tables of shape (n, n, n) (n symbols per variable); per-table medians over "
        f"{3 if quick else 10} random tables.",
        "",
        "| n | synergy per table | dit per table | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for n, ours_s, dit_s, ratio in lattice_rows:
        lines.append(f"| {n} | {ours_s * 1e3:.3f} ms | {dit_s * 1e3:.1f} ms | {ratio:,.0f}x |")
    section = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(section)
    return section


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
