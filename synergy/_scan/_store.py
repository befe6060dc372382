"""A scan's output directory: a manifest of its parameters, one Parquet file per finished chunk.

Every file is written under a temporary name and renamed into place, so a scan killed at any
moment leaves only whole chunks behind, and a resumed scan recomputes exactly the missing ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from synergy._scan._chunks import Plan
from synergy._validate import invalid

__all__ = ["MANIFEST", "RESULT", "OutDir", "plan_parameters", "saved_parameters"]

MANIFEST = "manifest.json"
RESULT = "result.parquet"
_FORMAT = 1
_CHUNK = re.compile(r"chunk-(\d{6})\.parquet")


def _import_pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(
            'scan(out=...) writes Parquet files and needs pyarrow: pip install "synergy[dask]"'
        ) from exc
    return pa, pq


def _atomic(path: str, write: Callable[[str], None]) -> None:
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def saved_parameters(path: Any) -> dict[str, Any] | None:
    """The parameters in ``path``'s manifest, or None when there is none.

    A manifest of another format is refused: its chunks may not be this version's rows.
    """
    manifest = os.path.join(os.fspath(path), MANIFEST)
    if not os.path.isfile(manifest):
        return None
    with open(manifest) as f:
        body = json.load(f)
    if body.get("format") != _FORMAT:
        raise invalid(
            "out",
            "scan",
            f"a scan directory of manifest format {_FORMAT} to resume",
            f"format {body.get('format')!r} in {manifest!r}",
            hint="It was written by another version of synergy: resume it with that version, "
            "or start a new scan in another directory.",
        )
    params: dict[str, Any] = body["parameters"]
    return params


class OutDir:
    """The output directory of one scan (checked, then written chunk by chunk)."""

    def __init__(self, path: Any, parameters: dict[str, Any], *, resume: bool, overwrite: bool):
        self.pa, self.pq = _import_pyarrow()
        self.path = os.fspath(path)
        self.parameters = parameters
        manifest = os.path.join(self.path, MANIFEST)
        if resume:
            if not os.path.isfile(manifest):
                raise invalid(
                    "out", "scan", f"a directory holding {MANIFEST} to resume", repr(self.path)
                )
            saved = saved_parameters(self.path) or {}
            differ = sorted(k for k in parameters if saved.get(k) != parameters[k])
            if differ:
                raise invalid(
                    "resume",
                    "scan",
                    "a scan with the saved parameters (only client, progress and out may change)",
                    "different "
                    + ", ".join(f"{k}={parameters[k]!r} (saved {saved.get(k)!r})" for k in differ),
                )
            return
        if os.path.isdir(self.path) and os.listdir(self.path) and not overwrite:
            raise invalid(
                "out",
                "scan",
                "a new or empty directory",
                f"{self.path!r}, which holds files",
                hint="Pass resume=True (--resume) to continue the run there, or overwrite=True "
                "(--overwrite) to write over its files; nothing is ever deleted.",
            )
        os.makedirs(self.path, exist_ok=True)
        # An overwritten directory may hold an older scan's chunks: this one recomputes all.
        self._fresh = True
        body = json.dumps({"format": _FORMAT, "parameters": parameters}, indent=1, sort_keys=True)
        _atomic(manifest, lambda tmp: _write_text(tmp, body + "\n"))

    _fresh = False

    def chunk_path(self, index: int) -> str:
        return os.path.join(self.path, f"chunk-{index:06d}.parquet")

    def finished(self, n_chunks: int) -> set[int]:
        """Chunks already on disk (none for a fresh or overwritten directory)."""
        if self._fresh:
            return set()
        done = set()
        for name in os.listdir(self.path):
            match = _CHUNK.fullmatch(name)
            if match and int(match.group(1)) < n_chunks:
                done.add(int(match.group(1)))
        return done

    def write_chunk(self, index: int, rows: dict[str, np.ndarray]) -> None:
        table = self.pa.table(rows)
        _atomic(self.chunk_path(index), lambda tmp: self.pq.write_table(table, tmp))

    def read_chunk(self, index: int) -> dict[str, np.ndarray]:
        table = self.pq.read_table(self.chunk_path(index))
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def write_result(self, frame: Any) -> None:
        _atomic(os.path.join(self.path, RESULT), lambda tmp: frame.to_parquet(tmp, index=False))


def plan_parameters(
    plan: Plan, names: tuple[Any, ...], bins: int | None, data: str
) -> dict[str, Any]:
    """The manifest's parameters: JSON-safe, compared key by key on resume."""
    params = dataclasses.asdict(plan)
    params["n_chunks"] = plan.n_chunks
    params["n_rows"] = plan.n_rows
    params["targets"] = list(plan.targets)
    params["measures"] = list(plan.measures)
    params["names"] = [repr(n) for n in names]
    params["bins"] = bins
    params["data"] = data
    return params
