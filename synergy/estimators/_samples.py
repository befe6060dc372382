"""Sample columns as flat cell indices, and the count tables of stacks of resamples.

The encoding itself is :func:`synergy.tables.encode_samples`, shared with ``from_samples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy.tables import encode_samples

# Elements (resample rows x max(n_samples, n_cells)) held at once: about 32 MB of int64.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class _Samples:
    """Sample columns as integer codes: one flat cell index per sample, target last."""

    shape: tuple[int, ...]
    flat: np.ndarray  # (n,) cell index of each sample in the C-ordered table
    n: int

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape))

    def counts(self) -> np.ndarray:
        return (
            np.bincount(self.flat, minlength=self.n_cells).astype(np.float64).reshape(self.shape)
        )


def _encode_columns(columns: Sequence[Any], func: str) -> _Samples:
    """Sample columns, a 2-D sample array or a DataFrame, as flat cell indices."""
    enc = encode_samples(*columns, caller=func)
    return _Samples(shape=enc.shape, flat=enc.cells(), n=enc.n_samples)


def _stack_counts(flat_codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Count tables of each row of ``flat_codes`` (rows, n): one bincount over offset codes."""
    rows = flat_codes.shape[0]
    n_cells = int(np.prod(shape))
    offset = flat_codes + (np.arange(rows, dtype=np.int64) * n_cells)[:, None]
    counts = np.bincount(offset.ravel(), minlength=rows * n_cells)
    return counts.astype(np.float64).reshape(rows, *shape)


def _chunk_rows(total: int, n: int, n_cells: int) -> int:
    return max(1, min(total, _CHUNK_ELEMENTS // max(n, n_cells, 1)))
