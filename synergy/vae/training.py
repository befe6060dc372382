"""The VAE trainer: one frozen config, one step per model, checkpoints that resume exactly.

Read top to bottom: ``TrainConfig`` (every default), ``Trainer`` (one step), ``train`` (the loop).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import random
import signal
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from synergy._validate import describe, invalid
from synergy._version import __version__
from synergy.vae._adam041 import Adam041
from synergy.vae.data import DSprites
from synergy.vae.losses import (
    Discriminator,
    LossTerms,
    betatcvae_loss,
    discriminator_loss,
    factorvae_loss,
    nonsyn_loss,
    nonsyn_penalty,
    vae_loss,
)
from synergy.vae.model import VAE, reparameterize

__all__ = [
    "MODELS",
    "UPDATES",
    "TrainConfig",
    "Trainer",
    "load_checkpoint",
    "load_run",
    "read_log",
    "train",
]

logger = logging.getLogger(__name__)

MODELS = ("vae", "betavae", "btcvae", "factorvae", "nonsyn")
UPDATES = ("reference", "sequential", "fused")
PENALTY_BATCHES = ("same", "fresh")
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"
# What a run directory gets from train, evaluate_run and plot_run: --overwrite moves these aside.
RUN_FILES = (
    CHECKPOINT_NAME,
    LOG_NAME,
    "config.json",
    "metrics.json",
    "traversals.png",
    "losses.png",
    "activations.png",
)
# 3: update="reference" means PyTorch 0.4.1's semantics (its Adam, the penalty gradient at the
#    post-step weights); format 2 called today's "sequential" rule "reference".
# 2: the file starts with CHECKPOINT_MAGIC and the SHA-256 of the torch.save bytes after it.
# 1: a bare torch.save file (still read, with a warning: it cannot be verified).
CHECKPOINT_FORMAT = 3
CHECKPOINT_MAGIC = b"synergy.vae checkpoint\n"
_HEADER_LINE = len(b"sha256 ") + 64 + 1
CACHE_LIMIT = 65_536  # procedural images kept in memory (256 MiB of uint8)
# Fields about how a run is carried out, not what it computes: a resumed run may change them.
RUN_FIELDS = ("steps", "out", "log_every", "checkpoint_every", "progress", "threads", "device")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, with the reference code's values as defaults.

    The CLI builds one flag per field (``--batch-size`` for ``batch_size``), with each field's
    ``help`` metadata as the flag's help, so this class is the single source of defaults.
    Fields marked nonsyn, betavae, btcvae or factorvae matter only to that model.

    Attributes
    ----------
    model : {"vae", "betavae", "btcvae", "factorvae", "nonsyn"}, default "nonsyn"
        What to train.
    steps : int, default 1000
        Total optimisation steps (batches), counted across resumes.
    batch_size : int, default 64
        Images per batch, per process (at least 2 for btcvae and factorvae).
    z_dim : int, default 10
        Latent dimensions.
    lr : float, default 1e-4
        Adam learning rate of the VAE.
    adam_beta1, adam_beta2 : float, default 0.9 and 0.999
        Adam's beta1 and beta2 for the VAE.
    alpha : float, default 5.0
        nonsyn: weight of the synergy penalty.
    omega : float, default 0.9
        nonsyn: greedy subset acceptance factor, in (0, 1].
    update : {"reference", "sequential", "fused"}, default "reference"
        nonsyn: "reference" takes two steps per batch as the paper's code did on PyTorch
        0.4.1 (0.4.1's Adam; the penalty's gradient read through the retained graph after
        the first step); "sequential" takes the same two steps with today's Adam and both
        gradients at the pre-step parameters; "fused" takes one step on the summed loss
        (see :class:`Trainer`).
    penalty_batch : {"same", "fresh"}, default "same"
        nonsyn, two-step updates: "same" computes the penalty on the ELBO's batch (the
        reference code's default); "fresh" encodes a newly drawn batch after the first step
        and computes the penalty there (the reference code's ``--sample sample``).
    beta : float, default 4.0
        betavae: weight of the KL term.
    tc_alpha, tc_beta, tc_gamma : float, default 1.0, 6.0 and 1.0
        btcvae: weights of the index-code mutual information, the total correlation and the
        dimension-wise KL.
    tc_method : {"mss", "mws"}, default "mss"
        btcvae: minibatch stratified or minibatch weighted sampling.
    factor_gamma : float, default 6.4
        factorvae: weight of the total correlation (1Konny's FactorVAE setting for dSprites,
        the code the Non-Syn VAE paper compared with).
    disc_lr : float, default 1e-4
        factorvae: Adam learning rate of the discriminator.
    disc_beta1, disc_beta2 : float, default 0.5 and 0.9
        factorvae: the discriminator's Adam beta1 and beta2.
    data : str, default ""
        Path to the dSprites ``.npz``; empty for the procedural replica.
    grid : str, default ""
        A smaller factor grid as comma-separated ``name=count`` pairs, e.g.
        ``"posX=8,posY=8,orientation=10"`` (see :meth:`factors`); empty for the full grid.
    seed : int, default 0
        Seed of every random number generator.
    out : str, default "runs/vae"
        Output directory of the logs and checkpoints.
    log_every : int, default 0
        Steps between lines of ``log.jsonl``; 0 scales it to the run: about 200 lines, so
        every step for runs of up to 200 steps (see :meth:`log_interval`).
    checkpoint_every : int, default 1000
        Steps between checkpoints.
    progress : bool, default True
        Show a tqdm progress bar.
    threads : int, default 0
        Torch CPU threads; 0: half the CPUs this process may use, at least 1 (on a busy
        2-core machine, two threads ran a step slower than one: see
        ``benchmarks/RESULTS.md``).
    device : str, default "cpu"
        ``"cpu"`` or ``"cuda"`` (under torchrun, cuda means ``cuda:LOCAL_RANK``).

    Raises
    ------
    InvalidParameterError
        An unknown ``model``, ``update`` or ``tc_method``; a count that is not a positive
        int; ``omega`` outside (0, 1]; a learning rate that is not positive; a malformed
        ``grid``.

    Examples
    --------
    >>> TrainConfig().lr, TrainConfig().alpha, TrainConfig().omega
    (0.0001, 5.0, 0.9)
    >>> TrainConfig(model="betavae", beta=4.0).model
    'betavae'
    """

    model: str = field(default="nonsyn", metadata={"help": "what to train", "choices": MODELS})
    steps: int = field(default=1000, metadata={"help": "total optimisation steps (batches)"})
    batch_size: int = field(default=64, metadata={"help": "images per batch (per process)"})
    z_dim: int = field(default=10, metadata={"help": "latent dimensions"})
    lr: float = field(default=1e-4, metadata={"help": "Adam learning rate"})
    adam_beta1: float = field(default=0.9, metadata={"help": "Adam beta1"})
    adam_beta2: float = field(default=0.999, metadata={"help": "Adam beta2"})
    alpha: float = field(default=5.0, metadata={"help": "nonsyn: weight of the synergy penalty"})
    omega: float = field(default=0.9, metadata={"help": "nonsyn: greedy subset acceptance factor"})
    update: str = field(
        default="reference",
        metadata={
            "choices": UPDATES,
            "help": "nonsyn: 'reference' (two steps per batch, PyTorch 0.4.1's Adam and "
            "gradients, as the paper's code ran), 'sequential' (two steps, today's Adam, both "
            "gradients at the pre-step weights) or 'fused' (one step on the summed loss)",
        },
    )
    penalty_batch: str = field(
        default="same",
        metadata={
            "choices": PENALTY_BATCHES,
            "help": "nonsyn, two-step updates: penalty on the ELBO's batch ('same') or on a "
            "fresh batch encoded after the first step ('fresh', the reference's --sample sample)",
        },
    )
    beta: float = field(default=4.0, metadata={"help": "betavae: KL weight"})
    tc_alpha: float = field(default=1.0, metadata={"help": "btcvae: index-code MI weight"})
    tc_beta: float = field(default=6.0, metadata={"help": "btcvae: total correlation weight"})
    tc_gamma: float = field(default=1.0, metadata={"help": "btcvae: dimension-wise KL weight"})
    tc_method: str = field(
        default="mss", metadata={"help": "btcvae: minibatch sampling", "choices": ("mss", "mws")}
    )
    factor_gamma: float = field(
        default=6.4, metadata={"help": "factorvae: TC weight (1Konny's dSprites setting)"}
    )
    disc_lr: float = field(default=1e-4, metadata={"help": "factorvae: discriminator Adam lr"})
    disc_beta1: float = field(default=0.5, metadata={"help": "factorvae: discriminator beta1"})
    disc_beta2: float = field(default=0.9, metadata={"help": "factorvae: discriminator beta2"})
    data: str = field(
        default="",
        metadata={"help": "path to the dSprites .npz; empty for the procedural replica"},
    )
    grid: str = field(
        default="",
        metadata={"help": "smaller factor grid, e.g. 'posX=8,posY=8,orientation=10'"},
    )
    seed: int = field(default=0, metadata={"help": "seed of every random number generator"})
    out: str = field(default="runs/vae", metadata={"help": "output directory"})
    log_every: int = field(
        default=0,
        metadata={"help": "steps between log.jsonl lines (0: about 200 lines per run)"},
    )
    checkpoint_every: int = field(default=1000, metadata={"help": "steps between checkpoints"})
    progress: bool = field(default=True, metadata={"help": "show a tqdm progress bar"})
    threads: int = field(
        default=0,
        metadata={"help": "torch CPU threads (0: half the usable CPUs, at least 1)"},
    )
    device: str = field(
        default="cpu",
        metadata={"help": "'cpu' or 'cuda' (under torchrun, cuda means cuda:LOCAL_RANK)"},
    )

    def __post_init__(self) -> None:
        func = "TrainConfig"
        if self.model not in MODELS:
            raise invalid("model", func, f"one of {MODELS}", describe(self.model))
        if self.update not in UPDATES:
            raise invalid("update", func, f"one of {UPDATES}", describe(self.update))
        if self.penalty_batch not in PENALTY_BATCHES:
            raise invalid(
                "penalty_batch", func, f"one of {PENALTY_BATCHES}", describe(self.penalty_batch)
            )
        if self.penalty_batch == "fresh" and self.update == "fused":
            raise invalid(
                "penalty_batch",
                func,
                "'same' with update='fused' (one step has no second batch)",
                describe(self.penalty_batch),
            )
        if self.tc_method not in ("mss", "mws"):
            raise invalid("tc_method", func, "'mss' or 'mws'", describe(self.tc_method))
        for name in ("steps", "batch_size", "z_dim", "log_every", "checkpoint_every", "threads"):
            value, least = getattr(self, name), int(name in ("log_every", "threads"))
            if isinstance(value, bool) or not isinstance(value, int) or value < 1 - least:
                expected = "a non-negative int" if least else "a positive int"
                raise invalid(name, func, expected, describe(value))
        if self.batch_size < 2 and self.model in ("btcvae", "factorvae"):
            raise invalid("batch_size", func, "at least 2 for btcvae and factorvae", describe(2))
        if not 0.0 < self.omega <= 1.0:
            raise invalid("omega", func, "a float in (0, 1]", describe(self.omega))
        for name in ("lr", "disc_lr"):
            if not getattr(self, name) > 0:
                raise invalid(name, func, "a positive float", describe(getattr(self, name)))
        self.factors()  # parse the grid now, so a typo fails before any work

    def log_interval(self) -> int:
        """Steps between lines of ``log.jsonl``: ``log_every``, or about ``steps / 200`` for 0.

        Returns
        -------
        int
            At least 1.

        Examples
        --------
        >>> TrainConfig(steps=100).log_interval(), TrainConfig(steps=3000).log_interval()
        (1, 15)
        """
        return self.log_every or max(1, self.steps // 200)

    def factors(self) -> dict[str, int]:
        """The ``grid`` string as ``DSprites(factors=...)``: ``"posX=8,posY=8"`` -> dict."""
        out: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in self.grid.split(","))):
            name, _, count = part.partition("=")
            try:
                out[name.strip()] = int(count)
            except ValueError:
                raise invalid(
                    "grid", "TrainConfig", "comma-separated name=count pairs", describe(self.grid)
                ) from None
        return out


# --------------------------------------------------------------------------------------------
# Distributed helpers: no-ops in a single process.


def _world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Give every parameter a gradient (zeros where unused) and average it over processes."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if world_size > 1:
        # One flat all-reduce instead of one per parameter: gloo pays per message.
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n


# --------------------------------------------------------------------------------------------
# The trainer: everything a run holds, and one step of each model.


class Trainer:
    """Model, optimisers, data sampler and step counter for one process of a run.

    Parameters
    ----------
    config : TrainConfig
        What to train.

    Notes
    -----
    The Non-Syn VAE has three update rules (``TrainConfig.update``):

    ``"reference"`` is what the paper's code computed on PyTorch 0.4.1. One forward pass;
    ``recon + KL`` is backpropagated with the graph retained and Adam steps; the gradients
    are zeroed (to zero tensors: 0.4.1's ``zero_grad``); the penalty is backpropagated through
    the *retained* graph and Adam steps again. The optimiser is 0.4.1's Adam
    (``synergy.vae._adam041.Adam041``), which writes ``p.data`` in place where autograd does
    not see it. So the penalty's
    backward reads the convolution and linear weights the graph saved *after* the first
    step, with the activations of the forward pass (before it): each weight's gradient is
    the pre-step input times an error signal carried down through post-step weights. The
    penalty does not reach the decoder; its gradient there is zero, and the second step
    still moves the decoder by momentum. Adam's step count rises by two per batch.

    ``"sequential"`` takes the same two steps with ``torch.optim.Adam`` and both gradients
    at the pre-step parameters (the penalty's first, from the same forward pass). Earlier
    versions of this library called it ``"reference"``; it is close to the paper's code but
    not equal to it: on a tiny grid, 20 steps of it end up to 2e-3 away from a transcription
    of 0.4.1 in some weight (about ten steps' worth at lr 1e-4), where ``"reference"`` stays
    within 1e-7 (``tests/vae/test_update_rules.py``).

    ``"fused"`` sums the losses and takes one ``torch.optim.Adam`` step: cheaper, one moment
    update per batch, and not what the paper ran.

    With ``penalty_batch="fresh"`` (two-step updates only) the penalty comes from a newly
    drawn batch, encoded after the first step at the updated weights, as the reference
    code's ``--sample sample``: there is no retained graph, so ``"reference"`` and
    ``"sequential"`` then differ only in the Adam rule. The logged ``penalty``, ``best`` and
    ``worst`` are then those of the fresh batch.

    The two-step rules and ``"fused"`` are different optimisers, not two schedules of one.
    Adam divides each step by a running gradient scale, so in the two-step rules the
    penalty's own step has a size set mostly by the learning rate, whatever ``alpha`` is
    (alpha acts through the moment estimates the two gradients share); in ``"fused"`` the
    penalty's gradient is added to the ELBO's before the division, so alpha sets its weight
    directly. Results tuned for one rule do not carry over to another.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.rank, self.world_size = _world()
        factors = config.factors()
        # Small procedural grids are drawn once up front (at most CACHE_LIMIT images).
        probe = DSprites(factors=factors) if not config.data else None
        cache = probe is not None and len(probe) <= CACHE_LIMIT
        self.data = DSprites(config.data or None, factors=factors, cache=cache)
        torch.manual_seed(config.seed)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        self.model = VAE(config.z_dim).to(self.device)
        self.params = list(self.model.parameters())
        betas = (config.adam_beta1, config.adam_beta2)
        self.optimizer: torch.optim.Optimizer
        if config.model == "nonsyn" and config.update == "reference":
            self.optimizer = Adam041(self.params, lr=config.lr, betas=betas)
        else:
            self.optimizer = torch.optim.Adam(self.params, lr=config.lr, betas=betas)
        self.discriminator: Discriminator | None = None
        self.disc_optimizer: torch.optim.Optimizer | None = None
        if config.model == "factorvae":
            self.discriminator = Discriminator(config.z_dim).to(self.device)
            self.disc_optimizer = torch.optim.Adam(
                self.discriminator.parameters(),
                lr=config.disc_lr,
                betas=(config.disc_beta1, config.disc_beta2),
            )
        if self.world_size > 1:
            for module in (self.model, self.discriminator):
                if module is not None:
                    for tensor in module.state_dict().values():
                        torch.distributed.broadcast(tensor, src=0)
            torch.manual_seed(config.seed + 7919 * self.rank)
        # The data sampler: its own generator, so checkpoints can restore it exactly.
        self.sampler = np.random.default_rng([config.seed, self.rank])
        self.step = 0

    def next_batch(self) -> torch.Tensor:
        indices = self.data.sample(self.sampler, self.config.batch_size)
        return self.data.batch(indices, device=self.device)

    def train_step(self) -> LossTerms:
        """One batch: forward, losses, and the model's update rule. Returns the terms."""
        cfg = self.config
        self.model.train()
        x = self.next_batch()
        logits, mu, logvar, z = self.model(x)
        if cfg.model in ("vae", "betavae"):
            beta = 1.0 if cfg.model == "vae" else cfg.beta
            terms = vae_loss(x, logits, mu, logvar, beta=beta, validate=False)
            self._adam_step(terms.loss)
        elif cfg.model == "btcvae":
            terms = betatcvae_loss(
                x,
                logits,
                mu,
                logvar,
                z,
                dataset_size=len(self.data),
                alpha=cfg.tc_alpha,
                beta=cfg.tc_beta,
                gamma=cfg.tc_gamma,
                method=cfg.tc_method,
                validate=False,
            )
            self._adam_step(terms.loss)
        elif cfg.model == "factorvae":
            terms = self._factorvae_step(x, logits, mu, logvar, z)
        else:
            terms = self._nonsyn_step(x, logits, mu, logvar)
        self.step += 1
        return terms

    def _adam_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _average_gradients(self.params, self.world_size)
        self.optimizer.step()

    def _nonsyn_step(
        self, x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> LossTerms:
        cfg = self.config
        if cfg.penalty_batch == "fresh":
            return self._nonsyn_fresh_step(x, logits, mu, logvar)
        terms = nonsyn_loss(
            x, logits, mu, logvar, alpha=cfg.alpha, omega=cfg.omega, validate=False
        )
        penalty = terms.terms["penalty"]
        if cfg.update == "fused":
            self._adam_step(terms.loss)
        elif cfg.update == "reference":
            # The reference code's order on the retained graph. Adam041 writes p.data, so the
            # second backward reads the post-step weights the graph saved (see the Notes).
            self.optimizer.zero_grad()
            terms.terms["elbo"].backward(retain_graph=True)
            _average_gradients(self.params, self.world_size)
            self.optimizer.step()
            self.optimizer.zero_grad()  # zero tensors: the decoder moves by momentum
            penalty.backward()
            _average_gradients(self.params, self.world_size)
            self.optimizer.step()
        else:
            # Both gradients at the pre-step parameters: the penalty's first.
            penalty_grads = torch.autograd.grad(
                penalty, self.params, retain_graph=True, allow_unused=True
            )
            self._adam_step(terms.terms["elbo"])
            self._step_on(penalty_grads)
        return terms

    def _nonsyn_fresh_step(
        self, x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> LossTerms:
        cfg = self.config
        elbo = vae_loss(x, logits, mu, logvar, beta=1.0, validate=False)
        self.optimizer.zero_grad()
        elbo.loss.backward()
        _average_gradients(self.params, self.world_size)
        self.optimizer.step()
        mu2, logvar2 = self.model.encode(self.next_batch())
        pen = nonsyn_penalty(mu2, logvar2, alpha=cfg.alpha, omega=cfg.omega, validate=False)
        pen.terms.pop("kl_per_sample")
        penalty_grads = torch.autograd.grad(pen.loss, self.params, allow_unused=True)
        self._step_on(penalty_grads)
        terms = {**elbo.terms, "elbo": elbo.loss, **pen.terms}
        return LossTerms(elbo.loss + pen.loss, terms)

    def _step_on(self, grads: tuple[torch.Tensor | None, ...]) -> None:
        """An optimiser step on given gradients; zeros where a parameter has none."""
        for p, g in zip(self.params, grads, strict=True):
            # Zeros, not None: Adam then moves the decoder by momentum, as PyTorch 0.4.1 did.
            p.grad = torch.zeros_like(p) if g is None else g
        _average_gradients(self.params, self.world_size)
        self.optimizer.step()

    def _factorvae_step(
        self,
        x: torch.Tensor,
        logits: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        z: torch.Tensor,
    ) -> LossTerms:
        if self.discriminator is None or self.disc_optimizer is None:
            raise RuntimeError("factorvae step without a discriminator")
        terms = factorvae_loss(
            x,
            logits,
            mu,
            logvar,
            z,
            self.discriminator,
            gamma=self.config.factor_gamma,
            validate=False,
        )
        self._adam_step(terms.loss)
        # A second batch supplies the permuted samples, as in Kim & Mnih's algorithm 2.
        with torch.no_grad():
            mu2, logvar2 = self.model.encode(self.next_batch())
            z2 = reparameterize(mu2, logvar2)
        d_loss = discriminator_loss(self.discriminator, z.detach(), z2)
        self.disc_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        _average_gradients(list(self.discriminator.parameters()), self.world_size)
        self.disc_optimizer.step()
        return LossTerms(terms.loss, {**terms.terms, "disc_loss": d_loss})

    # ----------------------------------------------------------------------------------------
    # Checkpoints: plain containers only, so torch.load(weights_only=True) reads them.

    def _rng_state(self) -> dict[str, Any]:
        py = random.getstate()
        np_global: Any = np.random.get_state()  # noqa: NPY002 - users may seed the legacy RNG
        return {
            "torch": torch.get_rng_state(),
            "numpy": [np_global[0], np_global[1].tolist(), *np_global[2:]],
            "python": [py[0], list(py[1]), py[2]],
            "sampler": self.sampler.bit_generator.state,
            "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def _set_rng_state(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        kind, keys, *rest = state["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))  # noqa: NPY002
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        self.sampler.bit_generator.state = state["sampler"]
        if self.device.type == "cuda" and state.get("cuda") is not None:
            torch.cuda.set_rng_state(state["cuda"], self.device)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run bit for bit (rank 0's view plus all RNGs)."""
        rng = self._rng_state()
        rngs: list[Any] = [rng]
        if self.world_size > 1:
            rngs = [None] * self.world_size
            torch.distributed.all_gather_object(rngs, rng)
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "version": __version__,
            "config": dataclasses.asdict(self.config),
            "step": self.step,
            "world_size": self.world_size,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rngs,
        }
        if self.discriminator is not None and self.disc_optimizer is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["disc_optimizer"] = self.disc_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint written by :meth:`state_dict` for the same config."""
        saved = dict(state["config"])
        old_reference = saved.get("model") == "nonsyn" and saved.get("update") == "reference"
        if state["format"] < 3 and old_reference:
            # Before format 3, "reference" named the rule now called "sequential": such a run
            # continues only as what it was.
            saved["update"] = "sequential"
        mine = dataclasses.asdict(self.config)
        # A field added after the checkpoint was written compares as its default.
        defaults = dataclasses.asdict(TrainConfig())
        differ = sorted(
            k for k in mine if k not in RUN_FIELDS and saved.get(k, defaults[k]) != mine[k]
        )
        if differ:
            raise invalid(
                "config",
                "Trainer.load_state_dict",
                "the checkpoint's config (only run settings such as steps may change)",
                "different "
                + ", ".join(f"{k}={mine[k]!r} (saved {saved.get(k)!r})" for k in differ),
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.discriminator is not None and self.disc_optimizer is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        self.step = int(state["step"])
        rngs = state["rng"]
        if len(rngs) == self.world_size:
            self._set_rng_state(rngs[self.rank])
        else:
            # A different number of processes cannot continue the same streams: reseed.
            logger.warning(
                "checkpoint from %d processes, resuming on %d: RNGs reseeded",
                len(rngs),
                self.world_size,
            )
            torch.manual_seed(self.config.seed + 7919 * self.rank + self.step)
            self.sampler = np.random.default_rng([self.config.seed, self.rank, self.step])


def save_checkpoint(state: dict[str, Any], path: str) -> None:
    """Write ``state`` with its SHA-256, atomically: a temporary file, then ``os.replace``.

    The file is a two-line header (:data:`CHECKPOINT_MAGIC`, then ``sha256 <hex digest>``)
    followed by the ``torch.save`` bytes the digest covers, so that :func:`load_checkpoint`
    can refuse a damaged file before unpickling any of it. A write that is killed leaves a
    ``.checkpoint-*.tmp`` file beside the last good checkpoint; :func:`train` removes such
    files when a run starts.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = CHECKPOINT_MAGIC + b"sha256 " + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable too (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


_CHECKPOINT_KEYS = ("format", "config", "step", "model", "optimizer", "rng")


def _bad_checkpoint(path: str, what: str) -> Exception:
    return invalid(
        "path",
        "load_checkpoint",
        "an intact checkpoint written by synergy.vae.train",
        f"{path!r}, which {what},",
        hint="Restore the file from a copy, or start the run again (--overwrite moves the "
        "old files aside).",
    )


def load_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint after checking its SHA-256; unpickle with ``weights_only=True``.

    Parameters
    ----------
    path : str
        A checkpoint file, or a run directory holding ``checkpoint.pt``.

    Returns
    -------
    dict
        The state :meth:`Trainer.state_dict` saved: ``format``, ``version``, ``config``,
        ``step``, ``model``, ``optimizer``, ``rng`` (and the discriminator's for factorvae).

    Raises
    ------
    InvalidParameterError
        If the file is missing, empty, truncated, damaged (its contents do not match the
        SHA-256 stored with them), not a checkpoint, or from a newer checkpoint format.

    Warns
    -----
    UserWarning
        For a checkpoint written before checkpoints carried a checksum (format 1): it loads,
        unverified, and the run's next save rewrites it with a checksum.
    """
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_NAME)
    if not os.path.isfile(path):
        raise invalid(
            "path",
            "load_checkpoint",
            f"a checkpoint file or a run directory holding {CHECKPOINT_NAME}",
            repr(path),
        )
    with open(path, "rb") as f:
        blob = f.read()
    if blob.startswith(CHECKPOINT_MAGIC):
        start = len(CHECKPOINT_MAGIC)
        line = blob[start : start + _HEADER_LINE]
        if not (line.startswith(b"sha256 ") and line.endswith(b"\n")):
            raise _bad_checkpoint(path, "has a damaged checksum line")
        payload = blob[start + _HEADER_LINE :]
        if hashlib.sha256(payload).hexdigest().encode() != line[7:-1]:
            raise _bad_checkpoint(
                path, "does not match the SHA-256 stored in it (the file is damaged or truncated)"
            )
    elif blob.startswith(b"PK\x03\x04"):
        warnings.warn(
            f"{path} was written before checkpoints carried a checksum: it loads without an "
            "integrity check, and the run's next save rewrites it with one.",
            UserWarning,
            stacklevel=2,
        )
        payload = blob
    else:
        raise _bad_checkpoint(path, "is empty" if not blob else "does not start as one does")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise _bad_checkpoint(path, f"torch cannot read ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or any(key not in state for key in _CHECKPOINT_KEYS):
        raise _bad_checkpoint(path, f"lacks some of the entries {list(_CHECKPOINT_KEYS)}")
    if not isinstance(state["format"], int) or state["format"] > CHECKPOINT_FORMAT:
        raise invalid(
            "path",
            "load_checkpoint",
            f"a checkpoint of format {CHECKPOINT_FORMAT} or older",
            f"{path!r} of format {state['format']!r}",
            hint="It was written by a newer synergy: upgrade synergy to read it.",
        )
    return state


def load_run(run: str | os.PathLike[str]) -> tuple[VAE, DSprites, dict[str, Any]]:
    """The trained model (eval mode, CPU), its dataset and the checkpoint of a run directory."""
    state = load_checkpoint(os.fspath(run))
    config = TrainConfig(**state["config"])
    model = VAE(config.z_dim)
    model.load_state_dict(state["model"])
    model.eval()
    data = DSprites(config.data or None, factors=config.factors())
    return model, data, state


# --------------------------------------------------------------------------------------------
# The loop.


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a flag the loop checks between steps (a second one kills)."""
    flag = [False]
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:  # not the main thread: no handler, plain KeyboardInterrupt
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        flag[0] = True
        signal.signal(signal.SIGINT, previous)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _prepare_out(config: TrainConfig, *, resume: bool, overwrite: bool) -> str | None:
    """Check the output directory; return the checkpoint to resume from, if any."""
    out = config.out
    ckpt = os.path.join(out, CHECKPOINT_NAME)
    if resume:
        if not os.path.isfile(ckpt):
            raise invalid(
                "out", "train", f"a directory holding {CHECKPOINT_NAME} to resume", repr(out)
            )
        return ckpt
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise invalid(
            "out",
            "train",
            "a new or empty directory",
            f"{out!r}, which holds files",
            hint="Pass resume=True (--resume) to continue the run there, or overwrite=True "
            "(--overwrite) to start a new one there (the old run's files move to "
            "previous-N/; nothing is deleted).",
        )
    return None


def _remove_unfinished_writes(out: str) -> None:
    """Delete the temporary files of checkpoint writes that were killed before the rename."""
    for name in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        if name.startswith(".checkpoint-") and name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(out, name))
                logger.warning("removed %s, left by an interrupted checkpoint write", name)


def _move_previous_run(out: str) -> str | None:
    """Move the files a run writes (:data:`RUN_FILES`) into ``out/previous-N``; return it."""
    present = [n for n in RUN_FILES if os.path.exists(os.path.join(out, n))]
    if not present:
        return None
    n = 1
    while os.path.exists(os.path.join(out, f"previous-{n}")):
        n += 1
    aside = os.path.join(out, f"previous-{n}")
    os.makedirs(aside)
    for name in present:
        os.replace(os.path.join(out, name), os.path.join(aside, name))
    logger.warning("moved the previous run's %s to %s", ", ".join(present), aside)
    return aside


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a run's ``log.jsonl``, without a last line cut short by a kill.

    Parameters
    ----------
    path : str or os.PathLike
        The ``log.jsonl`` of a run.

    Returns
    -------
    list of dict
        One record per complete line.

    Raises
    ------
    InvalidParameterError
        If a line before the last is not a JSON record with a ``step``.

    Warns
    -----
    UserWarning
        When the last line is cut short (a run killed while writing it): it is left out; a
        resumed run writes that step again.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    records = []
    for k, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("not a record with a step")
        except ValueError:
            if k == len(lines) - 1:
                warnings.warn(
                    f"{path}: left out line {number}, cut short by an interrupted write "
                    f"({line.strip()[:40]!r})",
                    UserWarning,
                    stacklevel=2,
                )
                break
            raise invalid(
                "path",
                "read_log",
                "a log.jsonl with one JSON record per line",
                f"{path!r}, whose line {number} is not one ({line.strip()[:40]!r})",
            ) from None
        records.append(record)
    return records


def _log_record(step: int, terms: LossTerms) -> dict[str, Any]:
    record: dict[str, Any] = {"step": step, "loss": float(terms.loss.detach())}
    for key, value in terms.terms.items():
        if isinstance(value, torch.Tensor):
            value = value.detach()
            is_set = key in ("best", "worst")
            record[key] = value.tolist() if (value.ndim or is_set) else float(value)
        else:
            record[key] = value
    return record


def _truncate_log(path: str, step: int) -> None:
    """Drop log lines past the checkpoint we resume from, so the log is one consistent run."""
    if not os.path.isfile(path):
        return
    records = read_log(path)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records if r["step"] <= step)


def train(config: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Trainer:
    """Train a model as ``config`` says, writing logs and checkpoints to ``config.out``.

    Parameters
    ----------
    config : TrainConfig
        The run. ``config.steps`` is the total, so a resumed run stops at the same step.
    resume : bool
        Continue from ``config.out/checkpoint.pt``. Only run settings (``steps``, ``out``,
        intervals, ``progress``, ``threads``) may differ from the saved config.
    overwrite : bool
        Start a new run in a non-empty output directory: the files a run writes there
        (``RUN_FILES``: checkpoint, log, config, metrics and pictures) first move to a new
        subdirectory ``previous-N``; other files stay. Nothing is deleted.

    Returns
    -------
    Trainer
        The trained state (model, optimisers, step).

    Raises
    ------
    InvalidParameterError
        If ``config.out`` holds files and neither ``resume`` nor ``overwrite`` is set, or a
        resumed checkpoint's config differs from ``config``.

    Notes
    -----
    Writes ``config.json``, ``log.jsonl`` (one JSON object every
    :meth:`TrainConfig.log_interval` steps: reconstruction, KL, per-dimension KL, penalty and
    best/worst sets, ...) and ``checkpoint.pt`` every ``checkpoint_every`` steps, at the end
    and on Ctrl-C (the first Ctrl-C finishes the current step, saves and raises
    ``KeyboardInterrupt``). A start removes the ``.checkpoint-*.tmp`` files of checkpoint
    writes that were killed; a resume drops the log's last line if a kill cut it short. Under
    torchrun (``WORLD_SIZE`` > 1) each process samples its own batches, gradients are averaged
    with an all-reduce (gloo on CPU) and rank 0 writes the files.

    Examples
    --------
    Two steps of the Non-Syn VAE on a tiny procedural grid, into a temporary directory (a
    real run takes thousands of steps; see :func:`synergy.vae.run_demo` for a short one):

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> config = TrainConfig(
    ...     steps=2, batch_size=4, grid="posX=2,posY=2,orientation=2", out=tmp.name, progress=False
    ... )
    >>> train(config).step
    2
    >>> sorted(os.listdir(tmp.name))
    ['checkpoint.pt', 'config.json', 'log.jsonl']
    >>> tmp.cleanup()
    """
    torch.set_num_threads(_torch_threads(config.threads))
    _maybe_init_distributed()
    rank, _ = _world()
    ckpt = _prepare_out(config, resume=resume, overwrite=overwrite)
    if rank == 0:
        _remove_unfinished_writes(config.out)
        if ckpt is None and overwrite:
            _move_previous_run(config.out)
    trainer = Trainer(config)
    log_path = os.path.join(config.out, LOG_NAME)
    if ckpt is not None:
        trainer.load_state_dict(load_checkpoint(ckpt))
    if rank == 0:
        os.makedirs(config.out, exist_ok=True)
        with open(os.path.join(config.out, "config.json"), "w", encoding="utf-8") as f:
            json.dump({**dataclasses.asdict(config), "version": __version__}, f, indent=2)
        if ckpt is not None:
            _truncate_log(log_path, trainer.step)
    from tqdm.auto import tqdm

    log_every = config.log_interval()
    bar = tqdm(
        total=config.steps,
        initial=trainer.step,
        disable=not config.progress or rank != 0,
        desc=config.model,
        dynamic_ncols=True,
    )
    try:
        with (
            _stop_on_interrupt() as stop,
            open(log_path if rank == 0 else os.devnull, "a", encoding="utf-8") as log,
        ):
            while trainer.step < config.steps:
                terms = trainer.train_step()
                bar.update(1)
                if trainer.step % log_every == 0 or trainer.step == config.steps:
                    record = _log_record(trainer.step, terms)
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    bar.set_postfix(recon=f"{record['recon']:.1f}", kl=f"{record['kl']:.2f}")
                if trainer.step % config.checkpoint_every == 0 and trainer.step < config.steps:
                    _save(trainer, config, rank)  # the last step is saved below
                if _any(stop[0], trainer.device):
                    _save(trainer, config, rank)
                    raise KeyboardInterrupt
        _save(trainer, config, rank)
    finally:
        bar.close()
    return trainer


def _torch_threads(threads: int) -> int:
    """``TrainConfig.threads`` resolved: 0 is half the CPUs this process may use, at least 1."""
    if threads > 0:
        return threads
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, usable // 2)


def _any(flag: bool, device: torch.device) -> bool:
    """True when any process saw Ctrl-C, so that all stop at the same step."""
    _, world = _world()
    if world == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    torch.distributed.all_reduce(t)
    return bool(t.item())


def _save(trainer: Trainer, config: TrainConfig, rank: int) -> None:
    state = trainer.state_dict()  # collective under torchrun: every rank calls it
    if rank == 0:
        save_checkpoint(state, os.path.join(config.out, CHECKPOINT_NAME))


def _maybe_init_distributed() -> None:
    """Join the process group torchrun describes in the environment (gloo on CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
