"""Build dit distributions from our tables, for cross-checks (dit is a test extra)."""

import itertools

import numpy as np


def to_dit(p: np.ndarray):
    """A dit.Distribution with one random variable per axis, outcomes as integer tuples."""
    import dit

    outcomes, pmf = [], []
    for idx in itertools.product(*(range(n) for n in p.shape)):
        if p[idx] > 0:
            outcomes.append(tuple(idx))
            pmf.append(float(p[idx]))
    return dit.Distribution(outcomes, pmf)


def random_table(rng: np.random.Generator, shape, *, zeros: bool = False) -> np.ndarray:
    p = rng.dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)
    if zeros:
        p = np.where(rng.random(shape) < 0.3, 0.0, p)
        if p.sum() == 0:
            p.flat[0] = 1.0
        p = p / p.sum()
    return p
