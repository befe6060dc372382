"""Numba kernels for the discrete core: sums of -x log2 x over the rows of a table batch.

The cost of an entropy is the logarithm. libm's ``log`` is a scalar call that LLVM cannot
vectorise (and numba's PyPI build has no SVML), so the kernels carry fdlibm's ``log``
(< 1 ulp) written as plain integer and float arithmetic in separate passes over an L1-sized
chunk: every pass vectorises, and a chunk never leaves the cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["neg_xlogx_rows"]

# fdlibm e_log.c: log(1 + f) = f - s*(f - R(s)) with s = f / (2 + f), R a minimax polynomial.
# 1/ln 2 split so that hi has its low 27 bits clear (log(m) * hi is then nearly exact).
_INV_LN2_HI = 1.44269504072144627571e00
_INV_LN2_LO = 1.67517131648865118353e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01

_CHUNK = 2048  # doubles per pass: 16 KiB of input and two 16 KiB scratch arrays stay in L1/L2
_MANT_MASK = np.uint64(0x000FFFFFFFFFFFFF)
_HIGH_MANT_MASK = np.uint64(0x000FFFFF)
_EXP_ONE = np.uint64(0x3FF00000)
_NEAR_SQRT2 = np.uint64(0x95F64)
_BIT20 = np.uint64(0x100000)
_MIN_NORMAL = 2.2250738585072014e-308


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum(values, n):
    """Plain sum; `reassoc` lets LLVM keep several vector accumulators (nothing else here)."""
    total = 0.0
    for i in range(n):
        total += values[i]
    return total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _fill_terms(x, bits, start, stop, mant_bits, k_out, terms):
    """terms[:stop - start] = -x log2 x (bits) for x[start:stop]; 0 log 0 = 0.

    Working in base 2 keeps dyadic tables exact: log2(2**-k) = -k with no rounding, so
    the entropy of XOR is 1 bit to the last bit.
    """
    n = stop - start
    # Pass 1 (integer): split x = 2**k * m with m in [sqrt(2)/2, sqrt(2)), fdlibm's normalisation.
    for i in range(n):
        b = bits[start + i]
        hx = (b >> np.uint64(32)) & _HIGH_MANT_MASK
        j = (hx + _NEAR_SQRT2) & _BIT20
        mant_bits[i] = (b & _MANT_MASK) | ((j ^ _EXP_ONE) << np.uint64(32))
        k_out[i] = np.int64(b >> np.uint64(52)) - 1023 + np.int64(j >> np.uint64(20))
    mant = mant_bits.view(np.float64)
    # Pass 2 (float, element-wise): log2(x) = k + log(m) / ln 2, log(m) in fdlibm's order.
    # No fastmath here: reassociation would undo fdlibm's error compensation.
    for i in range(n):
        xi = x[start + i]
        f = mant[i] - 1.0
        hfsq = 0.5 * f * f
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
        t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
        r = t2 + t1
        log_m = f - (hfsq - s * (hfsq + r))
        log2x = np.float64(k_out[i]) + (log_m * _INV_LN2_HI + log_m * _INV_LN2_LO)
        terms[i] = -(xi * log2x) if xi >= _MIN_NORMAL else 0.0
    # Zeros contribute 0 by definition; subnormals (rare) take libm's log.
    for i in range(n):
        xi = x[start + i]
        if 0.0 < xi < _MIN_NORMAL:
            terms[i] = -(xi * math.log2(xi))


@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _short_rows(x, bits, n_cols, out):
    """Many short rows: each block of whole rows is one flat chunk; rows summed in column order."""
    n_rows = out.shape[0]
    rows_per_chunk = max(1, _CHUNK // n_cols)
    n_chunks = (n_rows + rows_per_chunk - 1) // rows_per_chunk
    width = rows_per_chunk * n_cols
    for c in numba.prange(n_chunks):
        mant_bits = np.empty(width, dtype=np.uint64)
        k = np.empty(width, dtype=np.int64)
        terms = np.empty(width, dtype=np.float64)
        r0 = c * rows_per_chunk
        r1 = min(r0 + rows_per_chunk, n_rows)
        _fill_terms(x, bits, r0 * n_cols, r1 * n_cols, mant_bits, k, terms)
        for r in range(r1 - r0):
            out[r0 + r] = _sum(terms[r * n_cols : (r + 1) * n_cols], n_cols)


@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _long_row(x, bits, n_blocks):
    """One long row: threads share its chunks; chunk sums are returned in order."""
    n = x.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    per_block = (n_chunks + n_blocks - 1) // n_blocks
    partial = np.zeros(n_chunks, dtype=np.float64)
    for blk in numba.prange(n_blocks):
        mant_bits = np.empty(_CHUNK, dtype=np.uint64)
        k = np.empty(_CHUNK, dtype=np.int64)
        terms = np.empty(_CHUNK, dtype=np.float64)
        for c in range(blk * per_block, min((blk + 1) * per_block, n_chunks)):
            start = c * _CHUNK
            stop = min(start + _CHUNK, n)
            _fill_terms(x, bits, start, stop, mant_bits, k, terms)
            partial[c] = _sum(terms, stop - start)
    return partial


def neg_xlogx_rows(x: np.ndarray) -> np.ndarray:
    """Row sums of -x log2 x in bits for a 2-D float64 C-contiguous array of non-negative values.

    Long rows are split into chunks across threads and the chunk sums added with numpy's
    pairwise summation; short rows are processed a block of whole rows at a time. The
    result does not depend on the number of threads.
    """
    if x.ndim != 2 or x.dtype != np.float64 or not x.flags.c_contiguous:
        raise ValueError("neg_xlogx_rows needs a 2-D C-contiguous float64 array")
    n_rows, n_cols = x.shape
    if n_rows == 0 or n_cols == 0:
        return np.zeros(n_rows)
    flat = x.reshape(-1)
    bits = flat.view(np.uint64)
    if n_cols >= _CHUNK:
        n_chunks = (n_cols + _CHUNK - 1) // _CHUNK
        n_blocks = min(n_chunks, 8 * numba.get_num_threads())
        return np.array(
            [
                np.sum(_long_row(x[r], bits[r * n_cols : (r + 1) * n_cols], n_blocks))
                for r in range(n_rows)
            ]
        )
    out = np.empty(n_rows)
    _short_rows(flat, bits, n_cols, out)
    return out
