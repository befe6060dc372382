"""Permutation tests: the statistic with the target shuffled against the sources, and p-values.

Shuffles are index permutations or random contingency tables with the observed margins.
"""

from __future__ import annotations

import numpy as np

from synergy.estimators._measures import _Statistic
from synergy.estimators._samples import _chunk_rows, _Samples, _stack_counts


def _random_tables(joint: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random contingency tables with the row and column sums of ``joint`` (r, c).

    The law of the table when one variable is shuffled against the other. Zero margins are
    dropped before calling scipy and a margin with a single non-zero entry leaves one
    possible table: scipy 1.17's Patefield sampler returns negative counts in both cases.
    """
    from scipy.stats import random_table

    rows = joint.sum(axis=1)
    cols = joint.sum(axis=0)
    keep_r = np.flatnonzero(rows)
    keep_c = np.flatnonzero(cols)
    out = np.zeros((size, *joint.shape))
    if keep_r.size <= 1 or keep_c.size <= 1:
        out[:] = joint
        return out
    law = random_table(rows[keep_r].astype(np.int64), cols[keep_c].astype(np.int64))
    out[:, keep_r[:, None], keep_c[None, :]] = law.rvs(size=size, random_state=rng)
    return out


def _null_values(
    m: _Statistic,
    samples: _Samples,
    n_permutations: int,
    rng: np.random.Generator,
    resampling: str = "indices",
    strata: tuple[int, ...] = (),
) -> np.ndarray:
    """The statistic with the target shuffled against the sources, within ``strata`` if given.

    ``strata`` are source axes held fixed together with the target's pairing inside each of
    their cells: the null of conditional independence given them.
    """
    n_y = samples.shape[-1]
    ndim = len(samples.shape)
    shuffled = tuple(a for a in range(ndim - 1) if a not in strata)
    if resampling == "tables":
        # Shuffling Y leaves both margins of each stratum's (other sources x Y) count table
        # fixed and makes it a random contingency table with those margins, which scipy
        # draws directly (Patefield 1981) in O(cells) instead of O(n).
        order = (*strata, *shuffled, ndim - 1)
        counts = np.transpose(samples.counts(), order)
        n_strata = int(np.prod([samples.shape[a] for a in strata], dtype=np.int64))
        blocks = counts.reshape(n_strata, -1, n_y)
        inverse = np.argsort(order)
        chunk = _chunk_rows(n_permutations, samples.n_cells, samples.n_cells)
        parts = []
        for start in range(0, n_permutations, chunk):
            rows = min(chunk, n_permutations - start)
            stack = np.zeros((rows, *blocks.shape))
            for c in range(n_strata):
                if blocks[c].any():
                    stack[:, c] = _random_tables(blocks[c], rows, rng)
            stack = stack.reshape(rows, *counts.shape).transpose(0, *(1 + inverse))
            parts.append(m.statistic(np.ascontiguousarray(stack), samples.n, corrected=False))
        return np.concatenate(parts)
    sources, target = np.divmod(samples.flat, n_y)
    chunk = _chunk_rows(n_permutations, samples.n, samples.n_cells)
    parts = []
    if strata:
        codes = np.unravel_index(samples.flat, samples.shape)
        stratum = np.ravel_multi_index(
            tuple(codes[a] for a in strata), tuple(samples.shape[a] for a in strata)
        )
        # Positions grouped by stratum; a random key sorted within each stratum permutes
        # the targets inside it and nowhere else.
        grouped = np.argsort(stratum, kind="stable")
    for start in range(0, n_permutations, chunk):
        rows = min(chunk, n_permutations - start)
        if strata:
            keys = rng.random((rows, samples.n))
            shuffled_order = np.lexsort((keys, np.broadcast_to(stratum, keys.shape)), axis=-1)
            perm = np.empty_like(shuffled_order)
            perm[:, grouped] = shuffled_order
        else:
            perm = rng.permuted(np.tile(np.arange(samples.n, dtype=np.int64), (rows, 1)), axis=1)
        flat = sources[None, :] * n_y + target[perm]
        parts.append(m.statistic(_stack_counts(flat, samples.shape), samples.n, corrected=False))
    return np.concatenate(parts)


def _p_value(observed: float, null: np.ndarray, alternative: str) -> float:
    # Tables equal to the observed one must count as ties despite rounding in the batch.
    slack = 1e-12 * max(1.0, abs(observed))
    if alternative == "greater":
        hits = np.count_nonzero(null >= observed - slack)
    else:
        hits = np.count_nonzero(null <= observed + slack)
    return float((hits + 1.0) / (null.size + 1.0))
