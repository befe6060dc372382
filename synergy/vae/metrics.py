"""Disentanglement scores of a VAE on dSprites: MIG (two protocols), FactorVAE score, activations.

Every metric takes an ``encode`` callable from dataset indices to ``(mu, logvar)`` arrays, so a
trained model, an oracle or a random code are scored the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numba
import numpy as np

from synergy._validate import describe, invalid
from synergy.vae.data import FACTOR_NAMES, DSprites

if TYPE_CHECKING:
    import torch

__all__ = [
    "MIGResult",
    "evaluate_run",
    "factor_vae_score",
    "mean_activations",
    "mig",
    "model_encoder",
]

Encode = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
_LOG_2PI = math.log(2 * math.pi)


def model_encoder(model: torch.nn.Module, data: DSprites, *, batch_size: int = 256) -> Encode:
    """Wrap a VAE (anything with ``encode(x) -> (mu, logvar)``) as ``indices -> (mu, logvar)``.

    Runs in eval mode without gradients, ``batch_size`` images at a time; returns float64 arrays.
    """
    import torch

    def encode(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        was_training = model.training
        model.eval()
        mus, logvars = [], []
        param = next(model.parameters())
        with torch.no_grad():
            for start in range(0, len(indices), batch_size):
                x = data.batch(indices[start : start + batch_size], device=param.device)
                mu, logvar = model.encode(x.to(param.dtype))  # type: ignore[operator]
                mus.append(mu.double().cpu().numpy())
                logvars.append(logvar.double().cpu().numpy())
        model.train(was_training)
        dim = getattr(model, "z_dim", 0)
        if not mus:
            return np.zeros((0, dim)), np.zeros((0, dim))
        return np.concatenate(mus), np.concatenate(logvars)

    return encode


@dataclass(frozen=True)
class MIGResult:
    """Mutual information gap and what it was made of.

    Attributes
    ----------
    score : float
        MIG in [0, 1]: the mean over factors of the normalised gap.
    gaps : ndarray, shape (K,)
        Per factor: (largest - second largest MI with a latent) / H(factor).
    mutual_information : ndarray, shape (D, K)
        Estimated I(z_j; v_k) in nats.
    factor_entropy : ndarray, shape (K,)
        H(v_k) in nats.
    factors : tuple of str
        The factor names, in column order.
    protocol : str
        ``"chen"`` or ``"dlib"``.
    """

    score: float
    gaps: np.ndarray
    mutual_information: np.ndarray
    factor_entropy: np.ndarray
    factors: tuple[str, ...]
    protocol: str


def _factor_columns(data: DSprites, names: tuple[str, ...]) -> list[int]:
    """Columns of the named factors that vary in this grid (a single-value factor has no MI)."""
    return [FACTOR_NAMES.index(n) for n in names if data.sizes[FACTOR_NAMES.index(n)] > 1]


def _gaps(mi: np.ndarray, entropy: np.ndarray, *, clamp: bool = False) -> np.ndarray:
    top = np.sort(mi, axis=0)[::-1]
    if clamp:  # Chen et al.'s compute_metric_shapes: sort, then clamp(min=0)
        top = np.maximum(top, 0.0)
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    return (top[0] - second) / entropy


def _log_normal(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    return -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 * np.exp(-logvar))


@numba.njit(cache=True)
def _mixture_logsumexp(
    z: np.ndarray, mu_t: np.ndarray, inv_var_t: np.ndarray, offset_t: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled; run as Python under NUMBA_DISABLE_JIT
    """``out[s, d] = logsumexp_n log N(z[s, d]; mu[n, d], var[n, d])``, streaming over n.

    Two passes over the images per (code, dimension): the maximum, then the shifted sum of
    exponentials, so memory is the inputs and the output only. ``*_t`` are ``(D, N)``.
    """
    samples, dims = z.shape
    images = mu_t.shape[1]
    out = np.empty((samples, dims))
    for s in range(samples):
        for d in range(dims):
            point = z[s, d]
            top = -np.inf
            for n in range(images):
                diff = point - mu_t[d, n]
                value = offset_t[d, n] - 0.5 * diff * diff * inv_var_t[d, n]
                if value > top:
                    top = value
            total = 0.0
            for n in range(images):
                diff = point - mu_t[d, n]
                total += math.exp(offset_t[d, n] - 0.5 * diff * diff * inv_var_t[d, n] - top)
            out[s, d] = top + math.log(total)
    return out


def _mixture_entropy(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Per-dimension entropy of the mixture (1/N) sum_n q(z_j | x_n), from samples z (S, D).

    -log q(z_j) = log N - logsumexp_n log q(z_j | x_n), averaged over the samples.
    """
    mu_t = np.ascontiguousarray(mu.T)
    inv_var_t = np.ascontiguousarray(np.exp(-logvar).T)
    offset_t = np.ascontiguousarray((-0.5 * (_LOG_2PI + logvar)).T)
    log_mixture = _mixture_logsumexp(np.ascontiguousarray(z), mu_t, inv_var_t, offset_t)
    return -(log_mixture - math.log(len(mu))).mean(axis=0)


def _mig_chen(
    mu: np.ndarray,
    logvar: np.ndarray,
    positions: np.ndarray,
    sizes: tuple[int, ...],
    columns: list[int],
    rng: np.random.Generator,
    n_samples: int,
) -> tuple[np.ndarray, np.ndarray]:
    # Chen et al.: one sample of q(z|x) per image, drawn once; each entropy uses at most
    # n_samples of a group's samples (a random subset) against every posterior of the group.
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape)

    def entropy_of(rows: np.ndarray) -> np.ndarray:
        pick = rows if len(rows) <= n_samples else rng.permutation(rows)[:n_samples]
        return _mixture_entropy(z[pick], mu[rows], logvar[rows])

    marginal = entropy_of(np.arange(len(mu)))
    mi = np.zeros((mu.shape[1], len(columns)))
    for k, col in enumerate(columns):
        conditional = np.zeros(mu.shape[1])
        for value in range(sizes[col]):
            rows = np.flatnonzero(positions[:, col] == value)
            if len(rows):
                conditional += entropy_of(rows) * len(rows) / len(mu)
        mi[:, k] = marginal - conditional
    entropy = np.array([math.log(sizes[c]) for c in columns])
    return mi, entropy


def _mig_dlib(
    mu: np.ndarray, positions: np.ndarray, columns: list[int], bins: int
) -> tuple[np.ndarray, np.ndarray]:
    from synergy import entropy as discrete_entropy
    from synergy import mutual_information

    n, dims = mu.shape
    # disentanglement_lib's _histogram_discretize: np.histogram bin edges per latent.
    codes = np.empty((n, dims), dtype=np.int64)
    for j in range(dims):
        edges = np.histogram(mu[:, j], bins)[1]
        codes[:, j] = np.digitize(mu[:, j], edges[:-1]) - 1
    mi = np.zeros((dims, len(columns)))
    entropy = np.zeros(len(columns))
    for k, col in enumerate(columns):
        values = positions[:, col]
        nv = int(values.max()) + 1
        # One joint table per latent: (D, bins, nv), counts -> frequencies.
        flat = (np.arange(dims)[None, :] * bins + codes) * nv + values[:, None]
        tables = np.bincount(flat.ravel(), minlength=dims * bins * nv).reshape(dims, bins, nv)
        tables = tables / n
        mi[:, k] = mutual_information(tables, base=math.e, batch_ndim=1)
        entropy[k] = discrete_entropy(tables[0].sum(axis=0), base=math.e)
    return mi, entropy


def mig(
    encode: Encode,
    data: DSprites,
    *,
    protocol: Literal["chen", "dlib"] = "chen",
    n_points: int | Literal["auto"] | None = "auto",
    n_samples: int = 10_000,
    bins: int = 20,
    seed: int = 0,
) -> MIGResult:
    """Mutual information gap of a representation, in either published protocol.

    Parameters
    ----------
    encode : callable
        ``indices (N,) -> (mu, logvar)``, each ``(N, D)``; see :func:`model_encoder`.
    data : DSprites
        The dataset (a reduced grid makes the metric cheap).
    protocol : {"chen", "dlib"}
        ``"chen"`` (Chen et al. 2018): the 4 factors scale, orientation, posX, posY; one
        sampled code ``z ~ q(z|x)`` per image; entropies of q(z_j) and q(z_j | v_k)
        estimated against the mixture of the posteriors of every image (of the group);
        H(v_k) = log K_k; MI clamped at 0 before the gap, as Chen's code does.
        ``"dlib"`` (disentanglement_lib): the 5 factors including shape; posterior means,
        each latent binned into ``bins`` equal-width histogram bins; plug-in MI with the
        factor classes; H(v_k) from the sample.
    n_points : int, None or "auto", default "auto"
        Images encoded (a uniform sample without replacement; ``None`` for the whole grid).
        ``"auto"``: each protocol's published choice, the whole grid for ``"chen"`` and
        10,000 images for ``"dlib"``. A subsample makes ``"chen"`` cheaper but biased (its
        mixtures hold fewer posteriors; see Notes).
    n_samples : int, default 10000
        ``"chen"`` only: at most this many of a group's codes per entropy estimate (Chen's
        ``estimate_entropies`` default), each scored against every posterior of the group.
    bins : int, default 20
        ``"dlib"`` only: histogram bins per latent.
    seed : int, default 0
        Seeds image choice and code sampling: the score is deterministic under a seed.

    Returns
    -------
    MIGResult
        ``score`` in [0, 1] and the MI matrix behind it (nats).

    Notes
    -----
    .. math:: \\mathrm{MIG} = \\frac1K \\sum_k \\frac{I(z_{j^{(k)}}; v_k) - \\max_{j \\ne
       j^{(k)}} I(z_j; v_k)}{H(v_k)},\\qquad j^{(k)} = \\arg\\max_j I(z_j; v_k).

    The ``"chen"`` estimate of H(z_j | v_k) averages, over the values v, the entropy of the
    mixture of the posteriors of the images with v_k = v. Over the whole dSprites grid this
    scores 10,000 codes against 737,280 posteriors for the marginal and as many pairs again
    for each of the four factors: about 3.7e10 (code, image) pairs, each over every latent
    dimension; at the 1.3e7 pairs per CPU-second measured for z = 10 on a 2-core machine,
    about 50 CPU-minutes (see ``benchmarks/RESULTS.md``). ``MIGResult.mutual_information``
    holds the unclamped estimates.

    A subsample (for instance ``n_points=10_000, n_samples=1_000``, close to this
    function's defaults before it followed Chen's protocol) estimates each mixture from the
    sampled images only, so every group's mixture holds fewer posteriors than Chen's and the
    score is biased; ``benchmarks/bench_mig_chen.py`` measures that bias beside the time of
    the full estimate (on an 11,520-image grid, 2,000 images and 1,000 codes moved MIG by
    -0.003 on average, within the subsample's seed-to-seed spread of 0.008, in 1/70 of the
    time; see ``benchmarks/RESULTS.md``). Use it for quick looks, not for numbers to compare
    with the papers.

    References
    ----------
    Chen, Li, Grosse & Duvenaud (2018), "Isolating sources of disentanglement in VAEs";
    Locatello et al. (2019), "Challenging common assumptions ..." (disentanglement_lib).

    Examples
    --------
    >>> data = DSprites(factors={"scale": 3, "orientation": 3, "posX": 3, "posY": 3})
    >>> def oracle(idx):  # the factors themselves, nearly noiseless
    ...     values = data.latents_values(idx)[:, 1:]
    ...     return values, np.full(values.shape, -12.0)
    >>> round(mig(oracle, data, protocol="dlib").score, 2)
    1.0
    """
    func = "mig"
    if protocol not in ("chen", "dlib"):
        raise invalid("protocol", func, "'chen' or 'dlib'", describe(protocol))
    if n_points == "auto":
        n_points = None if protocol == "chen" else 10_000
    for name, value in (("n_samples", n_samples), ("bins", bins)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise invalid(name, func, "a positive int", describe(value))
    rng = np.random.default_rng(seed)
    n_total = len(data)
    if n_points is None or n_points >= n_total:
        indices = np.arange(n_total)
    else:
        indices = np.sort(rng.choice(n_total, size=n_points, replace=False))
    mu, logvar = (np.asarray(a, dtype=np.float64) for a in encode(indices))
    positions = data.factors_of(indices)
    if protocol == "chen":
        names: tuple[str, ...] = ("scale", "orientation", "posX", "posY")
        columns = _factor_columns(data, names)
        mi, entropy = _mig_chen(mu, logvar, positions, data.sizes, columns, rng, n_samples)
    else:
        names = ("shape", "scale", "orientation", "posX", "posY")
        columns = _factor_columns(data, names)
        mi, entropy = _mig_dlib(mu, positions, columns, bins)
    gaps = _gaps(mi, entropy, clamp=protocol == "chen")
    return MIGResult(
        score=float(gaps.mean()),
        gaps=gaps,
        mutual_information=mi,
        factor_entropy=entropy,
        factors=tuple(FACTOR_NAMES[c] for c in columns),
        protocol=protocol,
    )


# disentanglement_lib's published study (Locatello et al. 2019, unsupervised_study_v1's
# factor_vae_metric.gin) and the quick settings this library used before.
FACTOR_VAE_PROTOCOLS: dict[str, dict[str, float]] = {
    "dlib": {"n_train": 10_000, "n_eval": 5_000, "n_variance": 10_000, "prune_std": 0.05},
    "fast": {"n_train": 800, "n_eval": 400, "n_variance": 5_000, "prune_std": 0.0},
}


def factor_vae_score(
    encode: Encode,
    data: DSprites,
    *,
    protocol: Literal["dlib", "fast"] = "dlib",
    n_train: int | None = None,
    n_eval: int | None = None,
    batch_size: int = 64,
    n_variance: int | None = None,
    prune_std: float | None = None,
    seed: int = 0,
    vote_chunk: int = 64,
) -> float:
    """FactorVAE disentanglement score: accuracy of a majority-vote classifier.

    Parameters
    ----------
    encode : callable
        ``indices (N,) -> (mu, logvar)``; the means are used.
    data : DSprites
        The dataset; factors with one class in this grid are skipped.
    protocol : {"dlib", "fast"}, default "dlib"
        Where the defaults of ``n_train``, ``n_eval``, ``n_variance`` and ``prune_std`` come
        from. ``"dlib"``: disentanglement_lib's published study (Locatello et al. 2019),
        10,000 training and 5,000 evaluation votes, 10,000 images for the global variances,
        latents kept when their global standard deviation is at least 0.05. ``"fast"``: 800
        and 400 votes, 5,000 images, only constant latents dropped; about 19 times cheaper,
        and it scores collapsed latents that the published protocol ignores (a latent of
        standard deviation 0.004 that carries a factor scores as informative).
    n_train, n_eval : int, optional
        Votes for fitting and for scoring the classifier.
    batch_size : int, default 64
        Images per vote (L in Kim & Mnih).
    n_variance : int, optional
        Images for the global variance of each latent.
    prune_std : float, optional
        Latents whose global standard deviation is below this are ignored (collapsed
        dimensions); with 0, only latents of zero variance are. disentanglement_lib's
        function default is 0 (``_prune_dims(variances, threshold=0.)``, which keeps a latent
        when ``sqrt(variance) >= threshold``); its published study set 0.05.
    seed : int, default 0
        Deterministic under a seed.
    vote_chunk : int, default 64
        Votes whose images are encoded in one call (speed and memory knob; the score does
        not depend on it).

    Returns
    -------
    float
        Accuracy in [0, 1]; chance is ``1 / K`` for K factors. 0 when no latent is kept.

    Raises
    ------
    InvalidParameterError
        An unknown ``protocol``, or a grid where no factor varies.

    Notes
    -----
    Each vote fixes one factor k (uniformly among the varying ones) at a random value,
    encodes ``batch_size`` images that share it, divides each kept latent's variance over
    the batch by its global variance, and votes ``(argmin_j, k)``. The classifier maps each
    latent to its most frequent factor among the training votes; the score is its accuracy
    on the evaluation votes (disentanglement_lib's ``eval_accuracy``).

    References
    ----------
    Kim & Mnih (2018), "Disentangling by factorising", section 4; Locatello et al. (2019),
    "Challenging common assumptions in the unsupervised learning of disentangled
    representations" (disentanglement_lib, ``evaluation/metrics/factor_vae.py``).

    Examples
    --------
    A code that is the factors themselves scores 1; noise scores about chance (1/5 here):

    >>> data = DSprites(factors={"scale": 3, "orientation": 3, "posX": 3, "posY": 3})
    >>> def oracle(idx):
    ...     values = data.latents_values(idx)[:, 1:]
    ...     return values, np.zeros(values.shape)
    >>> factor_vae_score(oracle, data, protocol="fast")
    1.0
    >>> rng = np.random.default_rng(0)
    >>> def noise(idx):
    ...     values = rng.standard_normal((len(idx), 5))
    ...     return values, np.zeros(values.shape)
    >>> factor_vae_score(noise, data, protocol="fast") < 0.4
    True
    """
    func = "factor_vae_score"
    if protocol not in FACTOR_VAE_PROTOCOLS:
        expected = f"one of {tuple(FACTOR_VAE_PROTOCOLS)}"
        raise invalid("protocol", func, expected, describe(protocol))
    chosen = FACTOR_VAE_PROTOCOLS[protocol]
    n_train = int(chosen["n_train"]) if n_train is None else n_train
    n_eval = int(chosen["n_eval"]) if n_eval is None else n_eval
    n_variance = int(chosen["n_variance"]) if n_variance is None else n_variance
    prune_std = chosen["prune_std"] if prune_std is None else prune_std
    for name, value in (
        ("n_train", n_train),
        ("n_eval", n_eval),
        ("n_variance", n_variance),
        ("batch_size", batch_size),
        ("vote_chunk", vote_chunk),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise invalid(name, func, "a positive int", describe(value))
    if batch_size < 2:
        raise invalid("batch_size", func, "at least 2 (a variance per vote)", describe(batch_size))
    rng = np.random.default_rng(seed)
    columns = _factor_columns(data, ("shape", "scale", "orientation", "posX", "posY"))
    if not columns:
        raise invalid("data", func, "a grid where some factor varies", "none")
    pool = rng.choice(len(data), size=min(n_variance, len(data)), replace=False)
    global_var = np.var(np.asarray(encode(pool)[0], dtype=np.float64), axis=0, ddof=1)
    keep = np.sqrt(global_var) >= prune_std if prune_std > 0 else global_var > 0
    active = np.flatnonzero(keep)
    if active.size == 0:
        return 0.0

    def votes(n: int) -> tuple[np.ndarray, np.ndarray]:
        which = rng.integers(0, len(columns), size=n)
        dims = np.empty(n, dtype=np.int64)
        for start in range(0, n, vote_chunk):
            block = which[start : start + vote_chunk]
            positions = data.factors_of(rng.integers(0, len(data), size=len(block) * batch_size))
            positions = positions.reshape(len(block), batch_size, -1)
            for t, k in enumerate(block):
                positions[t, :, columns[k]] = rng.integers(0, data.sizes[columns[k]])
            flat = data.index_of(positions.reshape(len(block) * batch_size, -1))
            mu = np.asarray(encode(flat)[0], dtype=np.float64)
            mu = mu.reshape(len(block), batch_size, -1)[:, :, active]
            local_var = np.var(mu, axis=1, ddof=1)
            dims[start : start + len(block)] = active[np.argmin(local_var / global_var[active], 1)]
        return dims, which

    train_dims, train_factors = votes(n_train)
    counts = np.zeros((global_var.size, len(columns)), dtype=np.int64)
    np.add.at(counts, (train_dims, train_factors), 1)
    classifier = counts.argmax(axis=1)
    eval_dims, eval_factors = votes(n_eval)
    return float(np.mean(classifier[eval_dims] == eval_factors))


def mean_activations(
    encode: Encode, data: DSprites, *, n_points: int | None = 10_000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Mean latent activation against each factor, as in the Non-Syn VAE README's figure.

    Parameters
    ----------
    encode : callable
        ``indices (N,) -> (mu, logvar)``; the means are used.
    data : DSprites
        The dataset whose images are encoded.
    n_points : int or None, default 10000
        Images sampled without replacement; None (or at least ``len(data)``): every image.
    seed : int, default 0
        Seeds the sample.

    Returns
    -------
    dict of str to ndarray
        ``"scale"`` and ``"orientation"``: ``(n_shape, n_values, D)`` means of ``mu`` per shape
        and value (one curve per shape); ``"position"``: ``(n_posX, n_posY, D)`` means over all
        shapes, scales and orientations. Cells no sampled image falls in are NaN.

    Examples
    --------
    >>> data = DSprites(factors={"scale": 2, "orientation": 2, "posX": 2, "posY": 2})
    >>> enc = lambda idx: (data.latents_values(idx)[:, 2:3], np.zeros((len(idx), 1)))
    >>> mean_activations(enc, data, n_points=None)["scale"][0, :, 0]
    array([0.5, 1. ])
    """
    rng = np.random.default_rng(seed)
    if n_points is None or n_points >= len(data):
        indices = np.arange(len(data))
    else:
        indices = rng.choice(len(data), size=n_points, replace=False)
    mu = np.asarray(encode(indices)[0], dtype=np.float64)
    pos = data.factors_of(indices)
    shape_col, scale_col, orient_col, x_col, y_col = 1, 2, 3, 4, 5
    return {
        "scale": _group_mean(mu, pos[:, shape_col], pos[:, scale_col], data.sizes, 1, 2),
        "orientation": _group_mean(mu, pos[:, shape_col], pos[:, orient_col], data.sizes, 1, 3),
        "position": _group_mean(mu, pos[:, x_col], pos[:, y_col], data.sizes, 4, 5),
    }


def _group_mean(
    mu: np.ndarray, a: np.ndarray, b: np.ndarray, sizes: tuple[int, ...], ia: int, ib: int
) -> np.ndarray:
    na, nb, dims = sizes[ia], sizes[ib], mu.shape[1]
    cell = a * nb + b
    counts = np.bincount(cell, minlength=na * nb).astype(np.float64)
    sums = np.stack(
        [np.bincount(cell, weights=mu[:, j], minlength=na * nb) for j in range(dims)], axis=1
    )
    means = np.full_like(sums, np.nan)
    np.divide(sums, counts[:, None], out=means, where=counts[:, None] > 0)
    return means.reshape(na, nb, dims)


def evaluate_run(
    run: str,
    *,
    n_points: int | Literal["auto"] | None = "auto",
    n_votes: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Score a run directory's model: MIG (both protocols) and the FactorVAE score.

    Writes ``metrics.json`` into the run and returns the same numbers: ``mig_chen``,
    ``mig_dlib``, ``factor_vae_score`` and the ``step`` of the checkpoint.

    Parameters
    ----------
    run : str
        A run directory written by :func:`synergy.vae.train` (it needs ``checkpoint.pt``);
        the model is scored on the run's own dataset.
    n_points : int, None or "auto", default "auto"
        Images sampled for each MIG estimate (:func:`mig`); None: every image; "auto": each
        protocol's published choice (every image for Chen's, 10,000 for dlib's).
    n_votes : int, optional
        Training votes of the FactorVAE classifier; it is scored on ``n_votes // 2`` more
        (:func:`factor_vae_score`'s ``n_train`` and ``n_eval``). None: the published
        protocol's 10,000 and 5,000 votes.
    seed : int, default 0
        Seeds every metric.

    Returns
    -------
    dict of str to float
        ``"step"`` (of the checkpoint, as a float), ``"mig_chen"`` and ``"mig_dlib"`` (MIG
        in [0, 1] under each protocol) and ``"factor_vae_score"`` (accuracy in [0, 1]).

    Examples
    --------
    Not run here: it needs a trained run (see :func:`synergy.vae.train`). With the published
    protocols (the defaults) on the full 737,280-image grid, Chen's MIG over every image
    dominates the time (about 3.7e10 code-image pairs, some 50 CPU-minutes; see
    ``benchmarks/RESULTS.md``); ``n_points=10_000, n_votes=800`` gives a quick, biased look
    in seconds to minutes. For the run directory ``runs/vae``:

    >>> from synergy.vae import evaluate_run
    >>> sorted(evaluate_run("runs/vae"))  # doctest: +SKIP
    ['factor_vae_score', 'mig_chen', 'mig_dlib', 'step']
    """
    import json
    import os

    from synergy.vae.training import load_run

    model, data, state = load_run(run)
    encode = model_encoder(model, data)
    scores = {
        "step": float(state["step"]),
        "mig_chen": mig(encode, data, protocol="chen", n_points=n_points, seed=seed).score,
        "mig_dlib": mig(encode, data, protocol="dlib", n_points=n_points, seed=seed).score,
        "factor_vae_score": factor_vae_score(
            encode,
            data,
            n_train=n_votes,
            n_eval=None if n_votes is None else max(1, n_votes // 2),
            seed=seed,
        ),
    }
    with open(os.path.join(run, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(scores, f, indent=2)
    return scores
