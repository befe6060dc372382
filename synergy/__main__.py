"""``python -m synergy``: every measure of the library on the canonical gates, as a table.

``python -m synergy scan DATA --out DIR`` scans a recording instead (see synergy.scan).

The first thing to run after installing: it shows what each measure says about the gates the
literature uses to tell them apart.
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np

import synergy
from synergy import mutual_information
from synergy.pid import decompose, i_max, i_min, measure_names, s_max, s_vk, wms
from synergy.testing import GATES

#: The decompositions shown when ``--measures`` is not given.
DEFAULT_MEASURES = ("imin", "broja")

_Measure = Callable[[np.ndarray], float]


def _s_vk(p: np.ndarray) -> float:
    return float(s_vk(p))


def _source_mi(p: np.ndarray, *, source: int) -> float:
    return float(mutual_information(p, source, -1))


def _columns(n_sources: int) -> list[tuple[str, _Measure]]:
    cols: list[tuple[str, _Measure]] = [("I(X;Y)", lambda p: float(mutual_information(p)))]
    for i in range(n_sources):
        cols.append((f"I(X{i + 1};Y)", functools.partial(_source_mi, source=i)))
    cols += [
        ("WMS", lambda p: float(wms(p))),
        ("I_max", lambda p: float(i_max(p))),
        ("S_max", lambda p: float(s_max(p))),
        ("I_min", lambda p: float(i_min(p))),
        ("S_VK", _s_vk),
    ]
    return cols


def _fmt(value: float, digits: int) -> str:
    # Display only: a solver's -3e-12 reads as 0 at four decimals, not as "-0.0000".
    return f"{0.0 if abs(value) < 0.5 * 10.0**-digits else value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)

    def fmt(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join(
            [first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        )

    return "\n".join([fmt(header), line] + [fmt(r) for r in rows])


def measures_table(names: Sequence[str], *, digits: int = 4) -> str:
    """Every measure (bits) for the named gates, grouped by number of sources."""
    blocks = []
    by_sources: dict[int, list[str]] = {}
    for name in names:
        by_sources.setdefault(GATES[name].table.ndim - 1, []).append(name)
    for n_sources, group in sorted(by_sources.items()):
        cols = _columns(n_sources)
        rows = []
        for name in group:
            p = GATES[name].table
            rows.append([name] + [_fmt(f(p), digits) for _, f in cols])
        blocks.append(
            f"{n_sources} sources (bits)\n" + _table(["gate"] + [c for c, _ in cols], rows)
        )
    return "\n\n".join(blocks)


def pid_table(names: Sequence[str], measure: str, *, digits: int = 4) -> str:
    """Redundancy, unique and synergistic information of two-source gates under ``measure``."""
    rows = []
    for name in names:
        p = GATES[name].table
        if p.ndim != 3:
            continue
        r = decompose(p, measure)
        rows.append(
            [name] + [_fmt(v, digits) for v in (r.redundancy, r.unique[0], r.unique[1], r.synergy)]
        )
    header = ["gate", "shared", "unique X1", "unique X2", "synergy"]
    return f"PID, measure={measure!r} (bits)\n" + _table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scan"]:
        from synergy._scan._cli import main as scan_main

        return scan_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m synergy",
        description="Every synergy measure and PID of the library on the canonical gates.",
        epilog="To scan a recording's variables instead: python -m synergy scan --help",
    )
    parser.add_argument(
        "--gates", nargs="*", default=list(GATES), help="gate names (default: all)"
    )
    parser.add_argument("--digits", type=int, default=4, help="decimals shown")
    parser.add_argument(
        "--measures",
        nargs="+",
        default=list(DEFAULT_MEASURES),
        metavar="MEASURE",
        help="registered PID measures to decompose the two-source gates with (default: "
        f"{' '.join(DEFAULT_MEASURES)}; any of synergy.pid.measure_names())",
    )
    args = parser.parse_args(argv)
    unknown = [g for g in args.gates if g not in GATES]
    if unknown:
        parser.error(f"unknown gate(s) {unknown}; choose from {list(GATES)}")
    names = measure_names()
    unknown = [m for m in args.measures if m not in names]
    if unknown:
        parser.error(f"unknown measure(s) {unknown}; choose from {list(names)}")
    print(f"synergy {synergy.__version__}: measures on the canonical gates, target last\n")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        print(measures_table(args.gates, digits=args.digits))
        for measure in args.measures:
            print()
            print(pid_table(args.gates, measure, digits=args.digits))
    print(
        "\nBounds the library's tests hold on every table: max(0, WMS) <= S_VK <= S_max <= I(X;Y)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
