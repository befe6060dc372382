"""Chen's MIG over every image: its time, and the bias of the cheaper subsample, side by side.

A fixed synthetic code (posterior means that mix the four factors, posterior variances 0.2-0.5)
on a procedural sub-grid; ``mig(protocol="chen")`` with its defaults (every image, up to 10,000
codes per entropy) against the subsample ``n_points=..., n_samples=1_000``. Prints a markdown
block for ``benchmarks/RESULTS.md``; the pair count lets the time be scaled to the full grid.

Run ``python benchmarks/bench_mig_chen.py [--grid posX=8,posY=8,orientation=10] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np
from scipy.special import logsumexp

from synergy.vae.data import DSprites
from synergy.vae.metrics import _mixture_entropy, mig

FULL_GRID_PAIRS = 5 * 10_000 * 737_280  # marginal + 4 factors, each 10,000 codes x every image


def synthetic_code(data: DSprites, dims: int = 10, seed: int = 3):
    rng = np.random.default_rng(seed)
    classes = data.factors_of(np.arange(len(data)))[:, 2:].astype(np.float64)
    standard = (classes - classes.mean(0)) / classes.std(0)
    mu = standard @ (np.eye(4, dims) + 0.3 * rng.standard_normal((4, dims)))
    logvar = np.log(0.2 + 0.3 * rng.random(mu.shape))
    return lambda idx: (mu[idx], logvar[idx])


def blocked_numpy_entropy(z, mu, logvar, block_size=65_536):
    """The numpy mixture entropy this library used before the compiled kernel (the baseline)."""
    n, dims = mu.shape
    inv_var = np.exp(-logvar)
    offset = -0.5 * (math.log(2 * math.pi) + logvar)
    images = min(n, block_size)
    per_block = max(1, block_size // images)
    total = np.zeros(dims)
    for start in range(0, len(z), per_block):
        zs = z[start : start + per_block, None, :]
        acc = np.full((len(zs), dims), -np.inf)
        for first in range(0, n, images):
            part = slice(first, first + images)
            logq = offset[None, part] - 0.5 * (zs - mu[None, part]) ** 2 * inv_var[None, part]
            acc = np.logaddexp(acc, logsumexp(logq, axis=1))
        total -= (acc - math.log(n)).sum(axis=0)
    return total / len(z)


def kernel_rows(encode, data, repeats):
    """CPU seconds of one mixture entropy (200 codes x every image), compiled vs numpy."""
    mu, logvar = encode(np.arange(len(data)))
    z = mu[:200] + 0.1
    _mixture_entropy(z[:2], mu, logvar)  # compile (or load the cache) outside the timing
    rows = []
    for label, fn in (
        ("numba kernel (_mixture_entropy)", _mixture_entropy),
        ("blocked numpy + scipy logsumexp (before)", blocked_numpy_entropy),
    ):
        cpu = []
        for _ in range(repeats):
            start = time.process_time()
            value = fn(z, mu, logvar)
            cpu.append(time.process_time() - start)
        rows.append((label, statistics.median(cpu), value))
    np.testing.assert_allclose(rows[0][2], rows[1][2], rtol=1e-12)
    return rows, 200 * len(data)


def pairs_of(data: DSprites, n_points: int, n_samples: int) -> int:
    """(code, image) pairs the Chen estimator scores, for a uniform grid of n_points images."""
    total = min(n_samples, n_points) * n_points
    for name in ("scale", "orientation", "posX", "posY"):
        k = data.sizes[("color", "shape", *("scale", "orientation", "posX", "posY")).index(name)]
        group = n_points // k
        total += k * min(n_samples, group) * group
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="posX=8,posY=8,orientation=10")
    parser.add_argument("--subsample", type=int, default=2_000, help="n_points of the option")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    grid = {k: int(v) for k, v in (p.split("=") for p in args.grid.split(","))}
    data = DSprites(factors=grid)
    encode = synthetic_code(data)
    load_before = os.getloadavg()
    rows = []
    for label, kwargs, n_points, n_samples in (
        ("Chen (default): every image, <= 10,000 codes", {}, len(data), 10_000),
        (
            f"subsample: n_points={args.subsample:,}, n_samples=1,000",
            {"n_points": args.subsample, "n_samples": 1_000},
            args.subsample,
            1_000,
        ),
    ):
        times, scores = [], []
        for seed in range(args.repeats):
            start = time.perf_counter()
            scores.append(mig(encode, data, seed=seed, **kwargs).score)
            times.append(time.perf_counter() - start)
        rows.append((label, statistics.median(times), scores, pairs_of(data, n_points, n_samples)))
    load_after = os.getloadavg()
    base = rows[0]
    print(f"### Chen's MIG on {len(data):,} images ({args.grid}), synthetic code, z = 10\n")
    print(
        f"Command: `python benchmarks/bench_mig_chen.py --grid {args.grid} --subsample "
        f"{args.subsample} --repeats {args.repeats}`. Python {platform.python_version()}, numpy "
        f"{np.__version__}, {os.cpu_count()} cores shared; load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after. Median wall time of "
        f"{args.repeats} seeds; MIG as mean (min-max) over the seeds.\n"
    )
    print("| protocol | pairs scored | wall (median) | pairs/s | MIG | bias vs default |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, seconds, scores, pairs in rows:
        bias = statistics.mean(scores) - statistics.mean(base[2])
        print(
            f"| {label} | {pairs:.2e} | {seconds:.1f} s | {pairs / seconds:.2e} | "
            f"{statistics.mean(scores):.4f} ({min(scores):.4f}-{max(scores):.4f}) | "
            f"{bias:+.4f} |"
        )
    kernels, pairs = kernel_rows(encode, data, args.repeats)
    print(f"\nOne mixture entropy, 200 codes x {len(data):,} images (z = 10), CPU time:\n")
    print("| kernel | CPU s (median) | pairs per CPU-second | ratio |")
    print("|---|---:|---:|---:|")
    for label, cpu, _ in kernels:
        print(f"| {label} | {cpu:.3f} | {pairs / cpu:.2e} | {cpu / kernels[0][1]:.1f}x |")
    rate = base[3] / base[1]
    print(
        f"\nAt the default's rate, the full 737,280-image grid ({FULL_GRID_PAIRS:.2e} pairs) "
        f"would take about {FULL_GRID_PAIRS / rate / 60:.0f} min on this machine at this load."
    )


if __name__ == "__main__":
    main()
