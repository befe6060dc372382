"""Run every benchmark side by side and write benchmarks/RESULTS.md with the machine and versions.

Usage: ``python benchmarks/run.py [--quick] [--only core pid ...]`` (``make bench`` runs it all).
Each ``bench_<area>.py`` exposes ``main(quick=False) -> str`` returning a markdown section.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "core",
    "pid",
    "measures",
    "vk",
    "scan",
    "torch",
    "torch_vk",
    "cold",
    "estimators",
    "penalty",
    "vae",
]
PACKAGES = [
    "synergy",
    "numpy",
    "scipy",
    "numba",
    "llvmlite",
    "cvxpy",
    "clarabel",
    "ecos",
    "dit",
    "torch",
]


def machine_section() -> str:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS") if k in os.environ}
    return "\n".join(
        [
            "## Machine",
            "",
            f"- date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}",
            f"- CPU: {cpu}, {os.cpu_count()} logical cores, {mem}",
            f"- Python {platform.python_version()} on {platform.system()} {platform.machine()}",
            f"- {', '.join(versions)}",
            f"- environment: {env or 'no thread or BLAS overrides'}",
            "",
        ]
    )


def load(area: str):
    path = HERE / f"bench_{area}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{area}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", nargs="*", default=None, help=f"areas among {ORDER}")
    args = parser.parse_args(argv)
    areas = [a for a in ORDER if (HERE / f"bench_{a}.py").exists()]
    if args.only:
        areas = [a for a in areas if a in args.only]
    sections = []
    for area in areas:
        print(f"== {area}", flush=True)
        section = load(area).main(quick=args.quick)
        print(section, flush=True)
        sections.append(section)
    # Areas not rerun keep their last recorded section, so RESULTS.md always shows everything.
    results = HERE / "results"
    kept = [
        (results / f"{a}.md").read_text()
        for a in ORDER
        if a not in areas and (results / f"{a}.md").exists()
    ]
    header = (
        "# Benchmark results\n\n"
        "Medians of repeated runs on a shared, noisy machine; ratios matter more than absolute "
        "times. Reproduce with `make bench` (or `python benchmarks/run.py --only AREA`).\n\n"
    )
    if kept:
        header += (
            f"The machine section describes the run of {', '.join(areas)}; the other sections are "
            "kept from earlier runs (`benchmarks/results/`), each with its own load line.\n\n"
        )
    text = header + machine_section() + "\n" + "\n\n".join(sections + kept) + "\n"
    (HERE / "RESULTS.md").write_text(text)
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
