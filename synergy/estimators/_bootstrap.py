"""The bootstrap: resampled statistics, the jackknife for BCa, and the intervals.

Resampled count tables are built from index arrays or drawn as multinomials, a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.special import ndtr, ndtri

from synergy._validate import invalid
from synergy.estimators._measures import _Statistic
from synergy.estimators._samples import _chunk_rows, _Samples, _stack_counts


def _bootstrap_indices(
    rng: np.random.Generator, n_resamples: int, n: int, chunk: int
) -> Iterator[np.ndarray]:
    """Resample indices, rng.integers(0, n, size=(rows, n)) chunk by chunk."""
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_resamples - start), n))


def _bootstrap_values(
    m: _Statistic,
    samples: _Samples,
    n_resamples: int,
    rng: np.random.Generator,
    resampling: str = "indices",
) -> np.ndarray:
    if resampling == "tables":
        # The count table of a resample is Multinomial(n, p_hat): drawing it directly costs
        # O(n_cells) per resample instead of O(n), and has exactly the same law.
        p_hat = samples.counts().ravel() / samples.n
        chunk = _chunk_rows(n_resamples, samples.n_cells, samples.n_cells)
        parts = []
        for start in range(0, n_resamples, chunk):
            rows = min(chunk, n_resamples - start)
            counts = rng.multinomial(samples.n, p_hat, size=rows).astype(np.float64)
            parts.append(
                m.statistic(counts.reshape(rows, *samples.shape), samples.n, corrected=True)
            )
        return np.concatenate(parts)
    chunk = _chunk_rows(n_resamples, samples.n, samples.n_cells)
    parts = [
        m.statistic(_stack_counts(samples.flat[idx], samples.shape), samples.n, corrected=True)
        for idx in _bootstrap_indices(rng, n_resamples, samples.n, chunk)
    ]
    return np.concatenate(parts)


def _jackknife(m: _Statistic, samples: _Samples) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out values per occupied cell and how many samples share that cell.

    Removing any one of the samples in a cell gives the same table, so n leave-one-out
    fits reduce to one per occupied cell, weighted by its count.
    """
    counts = np.bincount(samples.flat, minlength=samples.n_cells).astype(np.float64)
    cells = np.flatnonzero(counts)
    values = []
    chunk = _chunk_rows(cells.size, samples.n_cells, samples.n_cells)
    for start in range(0, cells.size, chunk):
        rows = cells[start : start + chunk]
        stack = np.repeat(counts[None, :], rows.size, axis=0)
        stack[np.arange(rows.size), rows] -= 1.0
        values.append(
            m.statistic(stack.reshape(rows.size, *samples.shape), samples.n - 1, corrected=True)
        )
    return np.concatenate(values), counts[cells]


def _interval(
    method: str,
    theta: float,
    boot: np.ndarray,
    level: float,
    jackknife: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[float, float]:
    alpha = 1.0 - level
    if method == "percentile":
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        return float(low), float(high)
    if method == "basic":
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        return float(2 * theta - high), float(2 * theta - low)
    assert jackknife is not None
    values, weights = jackknife
    b = boot.size
    # Mid-rank share of resamples below theta, kept off 0 and 1 so z0 stays finite when
    # every resample falls on one side (discrete statistics do that).
    below = np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)
    share = float(below) / (2.0 * b)
    share = min(max(share, 0.5 / b), 1.0 - 0.5 / b)
    z0 = float(ndtri(share))
    centre = float(np.average(values, weights=weights))
    d = centre - values
    spread = float(np.sum(weights * d**2))
    accel = float(np.sum(weights * d**3)) / (6.0 * spread**1.5) if spread > 0 else 0.0
    z = ndtri(np.array([alpha / 2, 1 - alpha / 2]))
    shrink = 1.0 - accel * (z0 + z)
    if (shrink <= 0).any():
        # Only for |acceleration| beyond about 1 / (z0 + z): BCa has no interval there.
        raise invalid(
            "method",
            "bootstrap",
            "'percentile' or 'basic' for this sample: the BCa acceleration is too large",
            f"'bca' with acceleration {accel:.3g}",
        )
    probs = ndtr(z0 + (z0 + z) / shrink)
    low, high = np.quantile(boot, probs)
    return float(low), float(high)
