"""First calls after a fresh install: each public function in a new interpreter, empty cache.

Run as ``python benchmarks/bench_cold.py`` (``--quick``: fewer functions, ``--only NAME ...``
for some); writes benchmarks/results/cold.md and prints the same markdown section.

Each case runs twice in fresh interpreters sharing one new ``NUMBA_CACHE_DIR``: the first
run starts from an empty cache (what a new user waits for), the second must load everything
from that cache (numba's compile events count what it compiled anyway: a cache that is
silently invalidated shows up there). The second run also times the steady-state call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "cold.md"

# name -> (set-up, not timed; the call). Set-up runs after `import synergy`, with numpy as np,
# XOR and AND from synergy.testing in scope.
CASES: dict[str, tuple[str, str]] = {
    "entropy": ("", "synergy.entropy(XOR)"),
    "conditional_entropy": ("", "synergy.conditional_entropy(XOR, 2, [0, 1])"),
    "mutual_information": ("", "synergy.mutual_information(XOR)"),
    "conditional_mutual_information": ("", "synergy.conditional_mutual_information(XOR, 0, 2, 1)"),
    "kl_divergence": ("", "synergy.kl_divergence([0.5, 0.5], [0.25, 0.75])"),
    "specific_information": ("", "synergy.specific_information(AND, 0)"),
    "wms": ("", "synergy.wms(AND)"),
    "i_max": ("", "synergy.i_max(AND)"),
    "s_max": ("", "synergy.s_max(AND)"),
    "i_min": ("", "synergy.i_min(AND)"),
    "s_vk": ("", "synergy.s_vk(AND)"),
    "union_information": ("", "synergy.union_information(AND)"),
    "decompose imin": ("", "synergy.decompose(AND, 'imin')"),
    "decompose imax": ("", "synergy.decompose(AND, 'imax')"),
    "decompose broja": ("", "synergy.decompose(AND, 'broja')"),
    "decompose ccs": ("", "synergy.decompose(AND, 'ccs')"),
    "decompose dep": ("", "synergy.decompose(AND, 'dep')"),
    "tables.from_samples": ("", "synergy.tables.from_samples([0, 1, 1, 0], [0, 1, 0, 1])"),
    "tables.from_counts": ("", "synergy.tables.from_counts([[3, 1], [0, 4]])"),
    "tables.marginal": ("", "synergy.tables.marginal(AND, [2, 0])"),
    "wms, 1e5 2x2x2 tables": (
        "p = np.random.default_rng(0).dirichlet(np.ones(8), size=100_000).reshape(-1, 2, 2, 2)",
        "synergy.wms(p, batch_ndim=1)",
    ),
    # Single tables in a loop: the solver's kernel runs interpreted until the interpreted
    # solves have cost its budget (2 s), then compiles; 200 tables stay below it.
    "s_vk, 200 3x3x3 tables one by one": (
        "ts = np.random.default_rng(0).dirichlet(np.ones(27), size=200).reshape(-1, 3, 3, 3)",
        "[synergy.s_vk(t) for t in ts]",
    ),
    "s_vk, 2000 3x3x3 tables one by one": (
        "ts = np.random.default_rng(0).dirichlet(np.ones(27), size=2000).reshape(-1, 3, 3, 3)",
        "[synergy.s_vk(t) for t in ts]",
    ),
    "entropy, 2**22 cells": (
        "p = np.random.default_rng(0).random(1 << 22); p /= p.sum()",
        "synergy.entropy(p)",
    ),
}
QUICK = ["entropy", "mutual_information", "s_max", "s_vk", "wms, 1e5 2x2x2 tables"]

# The README's first-result snippet, imports included: timed whole, from interpreter start.
SNIPPET = """\
import numpy as np
from synergy import mutual_information, s_max, s_vk, wms
from synergy.testing import XOR, AND
mutual_information(XOR); mutual_information(XOR, 0, -1); s_max(AND); s_vk(AND)
p = np.random.default_rng(0).dirichlet(np.ones(8), size=100_000).reshape(-1, 2, 2, 2)
wms(p, batch_ndim=1).shape
"""
SNIPPET_NAME = "README snippet (imports included)"

STEADY_REPEATS = 7


def _child(name: str, steady: bool) -> dict[str, float | int]:
    """Runs in the fresh interpreter: time the import, the first call and the steady state."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    if name == SNIPPET_NAME:
        from numba.core import event

        with event.install_recorder("numba:compile") as recorder:
            exec(SNIPPET, {})
        return {
            "import": 0.0,
            "first": time.perf_counter() - start,
            "first_cpu": time.process_time() - cpu_start,
            "compiled": _n_compiled(recorder),
            "steady": 0.0,
        }
    import numpy as np
    from numba.core import event

    import synergy
    from synergy.testing import AND, XOR

    imported = time.perf_counter() - start
    scope = {"np": np, "synergy": synergy, "XOR": XOR, "AND": AND}
    setup, call = CASES[name]
    exec(setup, scope)
    code = compile(call, name, "eval")
    with event.install_recorder("numba:compile") as recorder:
        t0 = time.perf_counter()
        c0 = time.process_time()
        eval(code, scope)
        first = time.perf_counter() - t0
        first_cpu = time.process_time() - c0
    times = []
    for _ in range(STEADY_REPEATS if steady else 0):
        t0 = time.perf_counter()
        eval(code, scope)
        times.append(time.perf_counter() - t0)
    return {
        "import": imported,
        "first": first,
        "first_cpu": first_cpu,
        "compiled": _n_compiled(recorder),
        "steady": float(np.median(times)) if times else 0.0,
    }


def _n_compiled(recorder: object) -> int:
    """How many specialisations numba compiled (library overloads included), not loaded."""
    return sum(1 for _, ev in recorder.buffer if ev.is_start)  # type: ignore[attr-defined]


def _run(name: str, cache_dir: str, steady: bool) -> dict[str, float | int]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    cmd = [sys.executable, __file__, "--child", name] + (["--steady"] if steady else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name}: child failed\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def main(quick: bool = False, only: list[str] | None = None) -> str:
    """Time every case cold and warm, each in new interpreters; return (and write) markdown."""
    import numba
    import numpy as np

    names = only or (QUICK if quick else list(CASES))
    if not only:
        names = [*names, SNIPPET_NAME]
    load_before = os.getloadavg()
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="synergy-cold-") as cache_dir:
            load = os.getloadavg()[0]
            cold = _run(name, cache_dir, steady=False)
            warm = _run(name, cache_dir, steady=name != SNIPPET_NAME)
        rows.append((name, load, cold, warm))
        print(
            f"{name}: cold {_fmt(cold['first'])}, CPU {_fmt(cold['first_cpu'])} "
            f"({cold['compiled']} compiled), "
            f"warm {_fmt(warm['first'])} ({warm['compiled']} compiled), load {load:.2f}",
            file=sys.stderr,
            flush=True,
        )
    load_after = os.getloadavg()
    lines = [
        "## Cold start: first calls with an empty numba cache",
        "",
        "Command: `python benchmarks/bench_cold.py` (from the repository root, the project's "
        f".venv). Python {platform.python_version()}, numpy {np.__version__}, numba "
        f"{numba.__version__}, {os.cpu_count()} cores. Load average {load_before[0]:.1f} "
        f"before and {load_after[0]:.1f} after; each row shows the 1-minute load when it "
        "started.",
        "",
        "Each row is two fresh interpreters sharing a new, empty `NUMBA_CACHE_DIR`: the first "
        "call of the first one compiles (empty cache), the second one loads that cache (warm "
        f"cache) and then times the median of {STEADY_REPEATS} more calls (steady state). "
        "Compiling runs on one thread, so the CPU time of the empty-cache call is what it "
        "takes on a quiet machine; the wall time grows with the load. `compiled` counts "
        "numba's compile events (our kernels and the library overloads they pull in); on the "
        "warm run it must be 0, or the cache is not being used. Import is `import synergy` "
        "(numpy included) in the empty-cache run. Inputs are the canonical gates of "
        "`synergy.testing` unless the name says otherwise; the README snippet is timed whole "
        "from its first import. Goals: the snippet <= 10 s, the first `s_vk` <= 5 s, every "
        "other first call <= 3 s (quiet 2-core machine, empty cache).",
        "",
        "| function | load | import | first call, empty cache: wall | CPU | compiled "
        "| first call, warm cache | compiled (warm) | steady state |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, load, cold, warm in rows:
        steady = _fmt(float(warm["steady"])) if warm["steady"] else "-"
        imported = _fmt(float(cold["import"])) if cold["import"] else "-"
        lines.append(
            f"| {name} | {load:.1f} | {imported} | {_fmt(float(cold['first']))} | "
            f"{_fmt(float(cold['first_cpu']))} | {cold['compiled']} | "
            f"{_fmt(float(warm['first']))} | {warm['compiled']} | {steady} |"
        )
    section = "\n".join(lines) + "\n"
    if not only:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(section)
    return section


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="five functions and the snippet")
    parser.add_argument("--only", nargs="*", default=None, help=f"case names among {list(CASES)}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steady", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.steady)))
    else:
        print(main(quick=args.quick, only=args.only))
