"""``python -m synergy scan``: a recording's file in, the scan's Parquet table out.

User errors print one line and exit with status 2; the top rows by synergy end the run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from synergy._validate import InvalidDistributionError, InvalidParameterError, InvalidTypeError

__all__ = ["main"]

PROG = "python -m synergy scan"


class _UserError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as for every other user error of the command (argparse adds the usage).
        self.exit(2, f"{PROG}: error: {message}\n")


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The ``scan`` command's arguments."""
    parser = _Parser(
        prog=PROG,
        description="Synergy of every set of --sources variables about every other variable "
        "of a recording (one column per variable), written as Parquet.",
    )
    parser.add_argument("data", help="the recording: a .csv or .parquet file")
    parser.add_argument("--out", required=True, help="output directory (chunks, manifest, result)")
    parser.add_argument("--sources", type=int, default=2, help="variables per source set")
    parser.add_argument(
        "--measures",
        default="wms,s_max,i_min,s_vk",
        help="comma-separated measure names (default wms,s_max,i_min,s_vk)",
    )
    parser.add_argument("--targets", default=None, help="comma-separated target column names")
    parser.add_argument(
        "--bins", type=int, default=None, help="equal-frequency bins per numeric column"
    )
    parser.add_argument(
        "--permutations", type=int, default=0, help="shuffles per row for p-values"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the permutations")
    parser.add_argument("--chunk-size", type=int, default=None, help="rows per chunk")
    parser.add_argument(
        "--scheduler", default=None, help="a Dask scheduler address, e.g. tcp://HOST:8786"
    )
    parser.add_argument("--resume", action="store_true", help="continue the scan in --out")
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty --out (deletes nothing)"
    )
    parser.add_argument("--top", type=int, default=10, help="rows shown at the end")
    return parser


def _read(path: str) -> Any:
    import pandas as pd

    if not os.path.isfile(path):
        raise _UserError(f"no such file: {path!r}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise _UserError(f"DATA must be a .csv or .parquet file, got {path!r}")


def _client(address: str | None) -> Any:
    if address is None:
        return None
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError('--scheduler needs dask: pip install "synergy[dask]"') from exc
    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise _UserError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        from synergy._scan import scan

        data = _read(args.data)
        client = _client(args.scheduler)
        try:
            table = scan(
                data,
                sources=args.sources,
                targets=_names(args.targets),
                measures=_names(args.measures) or [],
                bins=args.bins,
                n_permutations=args.permutations,
                seed=args.seed,
                client=client,
                out=args.out,
                resume=args.resume,
                overwrite=args.overwrite,
                chunk_size=args.chunk_size,
            )
        finally:
            if client is not None:
                client.close()
    except KeyboardInterrupt:
        print(f"interrupted: finished chunks are in {args.out}; continue with --resume")
        return 130
    except (
        _UserError,
        InvalidParameterError,
        InvalidTypeError,
        InvalidDistributionError,
        ImportError,
    ) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    from synergy._scan._measures import synergy_ranking

    # By the first synergy the scan computed (the registry says which columns are one).
    rank = next(iter(synergy_ranking(table.columns)), "mutual_information")
    top = table.sort_values(rank, ascending=False, kind="stable").head(max(args.top, 0))
    print(f"{len(table)} rows written to {os.path.join(args.out, 'result.parquet')}")
    print(f"top {len(top)} by {rank} (bits):")
    print(top.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
