"""Compiled counting for the scan: every joint table of a chunk from coded samples.

Two kernels count the same thing. For small tables each variable's levels are bitsets over
the samples and a cell is the popcount of an AND (64 samples per instruction); for large
tables a direct pass over the samples folds the sources into one mixed-radix code and counts
it against every target at once. Either way a source set's code is built once for all targets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["BITSET_MAX_CELLS", "Counter", "count_tables"]

#: Tables of at most this many cells use the bitset kernel: its cost per (set, target) is
#: cells * n_samples / 64 popcounts against n_samples increments for the direct pass.
BITSET_MAX_CELLS = 64

# numba's workqueue threading layer (the fallback where neither TBB nor OpenMP is installed)
# aborts when two threads launch parallel kernels at once, as threads of one Dask worker may.
_LAUNCH = threading.Lock()

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_LOW7 = np.uint64(0x7F)
_LOW6 = np.uint64(63)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_FOUR = np.uint64(4)
_SIX = np.uint64(6)
_EIGHT = np.uint64(8)
_SIXTEEN = np.uint64(16)
_THIRTY_TWO = np.uint64(32)


@numba.njit(cache=True)
def _popcount(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # Bit counts of 2, 4, 8 bits, then bytes summed by shifts: no step can wrap around, so
    # the uncompiled path (NUMBA_DISABLE_JIT) runs it without overflow warnings. Measured
    # within 10% of the popcnt instruction on the AND-and-count loop below.
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> _TWO) & _M2)
    x = (x + (x >> _FOUR)) & _M4
    x = x + (x >> _EIGHT)
    x = x + (x >> _SIXTEEN)
    x = x + (x >> _THIRTY_TWO)
    return x & _LOW7


@numba.njit(cache=True)
def _bitsets(codes: np.ndarray, radix: int) -> np.ndarray:  # pragma: no cover - compiled
    """bits[v, level, w]: bit s % 64 of word s // 64 is set when codes[s, v] == level."""
    n_samples, n_vars = codes.shape
    n_words = (n_samples + 63) // 64
    bits = np.zeros((n_vars, radix, n_words), dtype=np.uint64)
    for s in range(n_samples):
        word = np.uint64(s) >> _SIX
        bit = _ONE << (np.uint64(s) & _LOW6)
        for v in range(n_vars):
            c = codes[s, v]
            if c >= 0:
                bits[v, c, word] |= bit
    return bits


@numba.njit(cache=True, parallel=True)
def _count_bits(
    src: np.ndarray, sets: np.ndarray, tgt: np.ndarray, radix: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    n_sets, k = sets.shape
    n_targets = tgt.shape[0]
    n_words = src.shape[2]
    n_codes = radix**k
    for i in numba.prange(n_sets):
        joint = np.empty((n_codes, n_words), dtype=np.uint64)
        for code in range(n_codes):
            rest = code
            # The last source is the fastest digit, as in a C-order table.
            for a in range(k - 1, -1, -1):
                level = rest % radix
                rest //= radix
                row = src[sets[i, a], level]
                if a == k - 1:
                    for w in range(n_words):
                        joint[code, w] = row[w]
                else:
                    for w in range(n_words):
                        joint[code, w] &= row[w]
        for t in range(n_targets):
            for code in range(n_codes):
                for y in range(radix):
                    acc = np.uint64(0)
                    for w in range(n_words):
                        acc += _popcount(joint[code, w] & tgt[t, y, w])
                    out[i, t, code, y] = acc


@numba.njit(cache=True, parallel=True)
def _count_direct(
    src: np.ndarray, sets: np.ndarray, tgt: np.ndarray, radix: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    n_sets, k = sets.shape
    n_samples = src.shape[0]
    n_targets = tgt.shape[1]
    for i in numba.prange(n_sets):
        for s in range(n_samples):
            code = 0
            present = True
            for a in range(k):
                v = src[s, sets[i, a]]
                if v < 0:
                    present = False
                    break
                code = code * radix + v
            if not present:
                continue
            for t in range(n_targets):
                y = tgt[s, t]
                if y >= 0:
                    out[i, t, code, y] += 1


@dataclass(frozen=True)
class Counter:
    """Coded samples made ready to count once per scan (and scattered once to a cluster).

    ``src`` holds every variable's codes and ``tgt`` the target columns' (the same array when
    every variable is a target); with the bitset kernel their bitsets are built here, once,
    rather than per chunk.
    """

    src: np.ndarray
    tgt: np.ndarray
    radix: int
    kernel: str
    src_bits: np.ndarray | None
    tgt_bits: np.ndarray | None

    @classmethod
    def build(
        cls, src: np.ndarray, tgt: np.ndarray, radix: int, sources: int, kernel: str | None = None
    ) -> Counter:
        """Choose the kernel for tables of ``radix ** (sources + 1)`` cells and prepare it."""
        if kernel is None:
            kernel = "bits" if radix ** (sources + 1) <= BITSET_MAX_CELLS else "direct"
        src = np.ascontiguousarray(src, dtype=np.int32)
        tgt = src if tgt is src else np.ascontiguousarray(tgt, dtype=np.int32)
        if kernel == "bits":
            src_bits = _bitsets(src, int(radix))
            tgt_bits = src_bits if tgt is src else _bitsets(tgt, int(radix))
            return cls(src, tgt, int(radix), kernel, src_bits, tgt_bits)
        return cls(src, tgt, int(radix), kernel, None, None)

    def count(self, sets: np.ndarray, shuffled: np.ndarray | None = None) -> np.ndarray:
        """Counts, shape (n_sets, n_targets, radix**k, radix), against ``self.tgt`` or the
        target codes ``shuffled`` (same shape, rows in another order)."""
        n_sets, k = sets.shape
        tgt = self.tgt if shuffled is None else np.ascontiguousarray(shuffled, dtype=np.int32)
        out = np.zeros((n_sets, tgt.shape[1], self.radix**k, self.radix), dtype=np.int64)
        if not n_sets:
            return out
        sets = np.ascontiguousarray(sets, dtype=np.int64)
        if self.src_bits is not None and self.tgt_bits is not None:  # the bitset kernel
            tgt_bits = self.tgt_bits if shuffled is None else _bitsets(tgt, self.radix)
            with _LAUNCH:
                _count_bits(self.src_bits, sets, tgt_bits, self.radix, out)
        else:
            with _LAUNCH:
                _count_direct(self.src, sets, tgt, self.radix, out)
        return out


def count_tables(
    src: np.ndarray,
    sets: np.ndarray,
    tgt: np.ndarray,
    radix: int,
    *,
    kernel: str | None = None,
) -> np.ndarray:
    """Counts of (source-set code, target code) for every source set and target column.

    Parameters
    ----------
    src : ndarray of int32, shape (n_samples, n_variables)
        Codes in [0, radix), -1 where the value is missing.
    sets : ndarray of int64, shape (n_sets, k)
        Variable indices of each source set.
    tgt : ndarray of int32, shape (n_samples, n_targets)
        Target codes in [0, radix) (-1 missing); a sample counts for a (set, target) pair
        when its k sources and that target are all present.
    radix : int
        Symbols per variable (the largest cardinality; smaller variables leave zero rows).
    kernel : {"bits", "direct"}, optional
        Default: "bits" for tables of at most ``BITSET_MAX_CELLS`` cells.

    Returns
    -------
    ndarray of int64, shape (n_sets, n_targets, radix**k, radix)
    """
    return Counter.build(src, tgt, radix, sets.shape[1], kernel).count(sets)
