"""Numba kernels for the discrete core: sums of -x log2 x over the rows of a table batch.

The cost of an entropy is the logarithm, so the kernels carry their own vectorisable log2
(libm's is a scalar call LLVM cannot vectorise, and numba's PyPI build has no SVML).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numba
import numpy as np

__all__ = ["neg_xlogx_rows"]

# log2 without a division (the approach of ARM optimized-routines' log2):
#   x = 2**k * z, z in [0.69, 1.38);  c = 1 / INV_C[i] for the sub-interval i holding z;
#   log2 x = k + log2 c + log2(1 + r),  r = z * INV_C[i] - 1 (one fma, |r| <= 2**-8),
#   log2(1 + r) = r / ln 2 + r**2 * P(r),  P the degree-5 Taylor polynomial (error < 2**-59 r).
# The 128 sub-intervals split the bit patterns of [0.69, 1.38) evenly; the one holding 1.0 is
# centred on it and has INV_C = 1, so powers of two give log2 = k exactly (H(XOR) = 1 bit).
# log2 c is stored as a hi part on a 2**-42 grid (k + hi is then exact) and a lo part.
# Every sum is in an order that keeps its rounding error (Fast2Sum, fma for products), so
# log2 x is within ~0.9 ulp and -x log2 x within ~1 ulp (tests/test_kernels.py, mpmath).
_TABLE_BITS = 7
_N_TABLE = 1 << _TABLE_BITS
_OFF = 0x3FE6100000000000  # bit pattern of 0.6895: sub-interval 79 is [1 - 2**-9, 1 + 2**-8)
_MIDPOINTS = (
    np.int64(_OFF) + (np.arange(_N_TABLE, dtype=np.int64) << np.int64(45)) + np.int64(1 << 44)
).view(np.float64)
_INV_C = 1.0 / _MIDPOINTS
# -log2(_INV_C[i]) from mpmath at 256 bits (regenerated and compared in tests/test_kernels.py):
# hi rounded to a multiple of 2**-42, lo = the rest rounded to double.
_LOG2_C_HI = np.array(
    [
        -0.5323944499170921,
        -0.5242665690336707,
        -0.5161842227357738,
        -0.508146903670422,
        -0.500154112916789,
        -0.4922053598013463,
        -0.48430016171596435,
        -0.47643804394306244,
        -0.4686185394837139,
        -0.46084118889189085,
        -0.4531055401123467,
        -0.44541114832236417,
        -0.43775757577896,
        -0.43014439166904594,
        -0.4225711719643641,
        -0.41503749927892386,
        -0.4075429627318954,
        -0.40008715781277715,
        -0.39266968625042864,
        -0.3852901558848316,
        -0.3779481805436262,
        -0.37064337992046603,
        -0.36337537945632903,
        -0.356143810225376,
        -0.34894830882103633,
        -0.3417885172482329,
        -0.33466408281492477,
        -0.3275746580284249,
        -0.3205199004944461,
        -0.31349947281682944,
        -0.3065130425006828,
        -0.29956028185893047,
        -0.29264086791908994,
        -0.285754482333914,
        -0.27890081129271493,
        -0.2720795454367817,
        -0.2652903797741146,
        -0.2585330135989352,
        -0.2518071504105137,
        -0.2451124978365442,
        -0.23844876755561017,
        -0.23181567522306068,
        -0.22521294039893291,
        -0.21864028647542,
        -0.21209744060865887,
        -0.20558413364983608,
        -0.19910010007970413,
        -0.1926450779424158,
        -0.18621880878299635,
        -0.1798210375848157,
        -0.1734515127091072,
        -0.16710998583516812,
        -0.1607962119030617,
        -0.15450994905563675,
        -0.14825095858395798,
        -0.14201900487250896,
        -0.1358138553457593,
        -0.1296352804165508,
        -0.12348305343493848,
        -0.1173569506381682,
        -0.11125675110179145,
        -0.10518223669214422,
        -0.09913319201928061,
        -0.09310940439149817,
        -0.08711066377009047,
        -0.081136762725464,
        -0.07518749639416455,
        -0.06926266243704049,
        -0.06336206099740593,
        -0.057485494660795666,
        -0.0516327684154021,
        -0.045803689613194365,
        -0.039998067931946935,
        -0.034215715337950314,
        -0.02845644604917652,
        -0.022720076500036157,
        -0.01700642530568075,
        -0.011315313227896695,
        -0.005646563141226579,
        0.0,
        0.011227255423364113,
        0.02236781302849522,
        0.03342300153735778,
        0.04439411935845783,
        0.05528243550111256,
        0.06608919045766015,
        0.07681559705088148,
        0.0874628412502716,
        0.09803208296057164,
        0.10852445677824107,
        0.11894107272360088,
        0.12928301694500988,
        0.13955135239871197,
        0.14974711950458186,
        0.15987133677845122,
        0.16992500144237965,
        0.17990909001491673,
        0.18982455887999095,
        0.1996723448364719,
        0.2094533656288604,
        0.2191685204620626,
        0.2288186904959275,
        0.23840473932500572,
        0.24792751344352837,
        0.25738784269265125,
        0.2667865406949659,
        0.2761244052742313,
        0.2854022188621457,
        0.29462074889170253,
        0.3037807481771324,
        0.31288295528429444,
        0.3219280948874257,
        0.33091687811452175,
        0.33985000288453193,
        0.34872815423113934,
        0.3575520046181282,
        0.3663222142458835,
        0.3750394313469769,
        0.3837042924740217,
        0.39231742277866033,
        0.40087943628213907,
        0.4093909361376973,
        0.417852514885908,
        0.4262647547020606,
        0.43462822763672193,
        0.44294349584879456,
        0.45121111183243556,
        0.4594316186373817,
    ]
)
_LOG2_C_LO = np.array(
    [
        8.95060531717246e-14,
        6.854347466857567e-14,
        3.017889721689981e-14,
        9.669005702092888e-14,
        -5.561784482656329e-15,
        4.243129017288246e-14,
        6.809328177743931e-15,
        7.535154862377412e-14,
        2.5952524761329018e-14,
        -7.787319892055038e-14,
        -1.653536533034379e-14,
        1.5770797227090651e-15,
        3.27493762554751e-14,
        -6.18121962111376e-15,
        1.1271343782267849e-13,
        8.012194124800777e-14,
        -2.424792887357944e-14,
        -9.514268766117025e-14,
        3.9331023023061465e-14,
        3.994992169973004e-14,
        2.6014652578075687e-15,
        7.552823844139388e-14,
        -2.215424366670506e-14,
        1.006664528060356e-13,
        -3.502323950612849e-14,
        2.7612250945921528e-14,
        1.0098006654692165e-13,
        -7.94981618919624e-14,
        -1.0783830238494461e-13,
        4.794486525898454e-14,
        8.090365136362068e-15,
        2.2546425693437238e-14,
        -2.7251690491750912e-14,
        3.6490520406707916e-14,
        -1.0004186127102465e-13,
        -1.906554188408716e-14,
        -4.716333095266043e-14,
        8.226841968489306e-14,
        -2.5979501074713428e-14,
        1.2831976975600503e-14,
        8.949239469560278e-14,
        -1.3041752050653654e-14,
        1.0640623509429657e-13,
        7.967231358255966e-14,
        9.031126004300161e-14,
        -5.794810079225316e-14,
        8.88856498033875e-15,
        1.999748494246997e-14,
        3.3407771995579656e-14,
        3.4411020259965245e-15,
        2.2041656414622804e-14,
        -9.012689335990582e-14,
        5.7169807234057886e-15,
        1.1955391796922103e-14,
        1.5527664645183298e-14,
        8.109895608291058e-14,
        3.953543753061425e-14,
        -4.480860817982877e-14,
        -6.1820328442621e-14,
        9.464197586312206e-15,
        5.067848032696586e-14,
        8.779360275398566e-14,
        2.9295974116879996e-14,
        1.6723281744199646e-14,
        5.208619308842755e-14,
        5.846794949477087e-14,
        -5.46607041302513e-14,
        -7.330885905482968e-14,
        -2.363393589882988e-14,
        3.5388233824528895e-14,
        7.973633612961444e-14,
        6.961378690854781e-14,
        2.8005005314477474e-14,
        3.732785754917401e-14,
        -5.1463677527831795e-14,
        -4.7292479329937295e-14,
        -9.023731364817202e-15,
        6.256832668475798e-14,
        8.453691829440808e-14,
        0.0,
        -1.099727256756715e-13,
        -4.079216956342436e-14,
        9.255820355541975e-14,
        -4.431028804467039e-15,
        7.712232577778844e-14,
        1.1230858035169117e-13,
        -5.064176283689078e-14,
        6.783365796585726e-14,
        -4.48792693186017e-14,
        -7.203783280403596e-14,
        -9.352654535073385e-14,
        -4.33761477917771e-14,
        8.161893530812146e-14,
        1.0016848890515923e-13,
        -6.180507886407109e-14,
        -6.720987860981189e-14,
        1.7760360826048988e-14,
        2.636437950888417e-14,
        -1.074432137435142e-13,
        8.929112001819061e-14,
        9.90147008972225e-14,
        -4.6727933975686694e-14,
        7.318660981470654e-14,
        5.720492649791384e-14,
        4.798754310693158e-16,
        -6.461054400303915e-14,
        6.2364001588665845e-15,
        1.0271842048056712e-13,
        -7.559916867115415e-14,
        -2.9462230998212704e-14,
        6.084367182265165e-14,
        -6.341868091945697e-14,
        9.532650947363914e-14,
        9.28738325610129e-14,
        -6.182352295178862e-14,
        -4.455101200568318e-14,
        -6.77283298915529e-14,
        -5.224457245829167e-14,
        3.042374465675282e-14,
        1.0003934052788237e-13,
        4.528680885097264e-14,
        4.4950627089956756e-15,
        -1.0085037774493429e-14,
        3.735909418214817e-14,
        2.7729990134081103e-15,
        -6.623286377490908e-14,
        -1.0675853989537054e-13,
        -8.447288438987944e-14,
    ]
)
_INV_LN2_HI = 1.4426950408889634  # 1/ln 2 = hi + lo to ~2**-106
_INV_LN2_LO = 2.0355273740931033e-17
# Taylor coefficients of (log2(1 + r) - r / ln 2) / r**2: (-1)**(j + 1) / ((j + 2) ln 2).
_P0 = -0.7213475204444817
_P1 = 0.4808983469629878
_P2 = -0.36067376022224085
_P3 = 0.28853900817779266
_P4 = -0.2404491734814939
_P5 = 0.2060992915555662

_OFF_I = np.int64(_OFF)
_INDEX_MASK = np.int64(_N_TABLE - 1)
_MIN_NORMAL = 2.2250738585072014e-308
_MIN_NORMAL_BITS = np.int64(0x0010000000000000)
_TWO_52 = 4503599627370496.0
_CHUNK = 2048  # doubles per pass: 16 KiB of terms stays in L1 between the two passes

if getattr(numba.config, "DISABLE_JIT", False):

    def _fma(a: float, b: float, c: float) -> float:
        """a * b + c rounded once (exact rationals; the jitted path uses llvm.fma)."""
        return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))

    def _bits_as_float(b: Any) -> float:
        return float(np.int64(b).view(np.float64))

    def _float_as_bits(x: Any) -> np.int64:
        return np.float64(x).view(np.int64)

else:
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
        """llvm.fma.f64: one rounding, vectorises to vfmadd (or calls libm's fma without FMA)."""
        sig = types.float64(types.float64, types.float64, types.float64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            double = ir.DoubleType()
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(double, [double, double, double]), "llvm.fma.f64"
            )
            return builder.call(fn, args)

        return sig, codegen

    @intrinsic
    def _bits_as_float(typingctx: Any, b: Any) -> Any:
        """Reinterpret int64 bits as float64 in a register (no round trip through memory)."""
        sig = types.float64(types.int64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.DoubleType())

        return sig, codegen

    @intrinsic
    def _float_as_bits(typingctx: Any, x: Any) -> Any:
        sig = types.int64(types.float64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.IntType(64))

        return sig, codegen


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _neg_xlogx(x, bits, k_shift):
    """-x log2 x for a positive normal double x with bit pattern ``bits`` (of x * 2**k_shift).

    No fastmath: reassociation would cancel the compensated sums.
    """
    tmp = bits - _OFF_I
    k = tmp >> 52
    i = np.uint64((tmp >> 45) & _INDEX_MASK)  # unsigned: no negative-index wraparound check
    z = _bits_as_float(bits - (k << 52))
    r = _fma(z, _INV_C[i], -1.0)
    # r / ln 2 as t1 + t2 with t1 = fl(r / ln 2): the fma recovers t1's rounding error.
    t1 = r * _INV_LN2_HI
    t2 = _fma(r, _INV_LN2_LO, _fma(r, _INV_LN2_HI, -t1))
    t3 = np.float64(k - k_shift) + _LOG2_C_HI[i]  # exact: hi sits on a 2**-42 grid
    hi = t3 + t1
    lo = ((t3 - hi) + t1) + (t2 + _LOG2_C_LO[i])  # Fast2Sum: |t3| >= |t1| or t3 == 0
    r2 = r * r
    poly = _fma(r2 * r2, _fma(r, _P5, _P4), _fma(r2, _fma(r, _P3, _P2), _fma(r, _P1, _P0)))
    lo = _fma(r2, poly, lo)
    # x * (hi + lo) with the rounding error of x * hi kept.
    prod = x * hi
    return -(prod + _fma(x, lo, _fma(x, hi, -prod)))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _neg_xlogx_subnormal(x):
    """-x log2 x for 0 < x < 2**-1022: x * 2**52 is normal and exact, and log2 shifts by 52."""
    return _neg_xlogx(x, _float_as_bits(x * _TWO_52), 52)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _fill_terms(x, bits, terms):
    """terms[:n] = -x log2 x (bits) for x = x[:n] (n = len(x)); 0 log 0 = 0.

    One pass, vectorised (8 lanes of table gathers and fmas); ``bits`` is ``x`` viewed as int64.
    """
    n = x.shape[0]
    n_subnormal = 0
    for j in range(n):
        xj = x[j]
        b = bits[j]
        term = _neg_xlogx(xj, b, 0)
        # Zeros (and anything not positive, which validation rules out) contribute 0.
        terms[j] = term if xj >= _MIN_NORMAL else 0.0
        n_subnormal += (b > 0) & (b < _MIN_NORMAL_BITS)
    if n_subnormal:
        for j in range(n):
            xj = x[j]
            if 0.0 < xj < _MIN_NORMAL:
                terms[j] = _neg_xlogx_subnormal(xj)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum(values, n):
    """Plain sum; `reassoc` lets LLVM keep several vector accumulators (nothing else here)."""
    total = 0.0
    for i in range(n):
        total += values[i]
    return total


@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _short_rows(x, bits, n_cols, out):
    """Many short rows: each block of whole rows is one flat chunk; rows summed in column order."""
    n_rows = out.shape[0]
    rows_per_chunk = max(1, _CHUNK // n_cols)
    n_chunks = (n_rows + rows_per_chunk - 1) // rows_per_chunk
    width = rows_per_chunk * n_cols
    for c in numba.prange(n_chunks):
        terms = np.empty(width, dtype=np.float64)
        r0 = c * rows_per_chunk
        r1 = min(r0 + rows_per_chunk, n_rows)
        _fill_terms(x[r0 * n_cols : r1 * n_cols], bits[r0 * n_cols : r1 * n_cols], terms)
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
        terms = np.empty(_CHUNK, dtype=np.float64)
        for c in range(blk * per_block, min((blk + 1) * per_block, n_chunks)):
            start = c * _CHUNK
            stop = min(start + _CHUNK, n)
            _fill_terms(x[start:stop], bits[start:stop], terms)
            partial[c] = _sum(terms, stop - start)
    return partial


def neg_xlogx_rows(x: np.ndarray) -> np.ndarray:
    """Row sums of -x log2 x in bits for a 2-D float64 C-contiguous array of non-negative values.

    Long rows are split into fixed chunks shared among the threads and the chunk sums added
    with numpy's pairwise summation; short rows are processed a block of whole rows at a time.
    The result does not depend on the number of threads. Entries that are not positive
    (0, and negatives or NaN, which validation rules out) contribute 0.
    """
    if x.ndim != 2 or x.dtype != np.float64 or not x.flags.c_contiguous:
        raise ValueError("neg_xlogx_rows needs a 2-D C-contiguous float64 array")
    n_rows, n_cols = x.shape
    if n_rows == 0 or n_cols == 0:
        return np.zeros(n_rows)
    flat = x.reshape(-1)
    bits = flat.view(np.int64)
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
