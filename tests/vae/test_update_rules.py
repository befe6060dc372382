"""The Non-Syn VAE's update rules against independent transcriptions of what they claim to be.

``reference`` claims PyTorch 0.4.1's semantics: 0.4.1's Adam (epsilon on the uncorrected second
moment, torch/optim/adam.py of 0.4.1) and the penalty's backward run on the retained graph
after the first step, when 0.4.1's in-place ``p.data`` write had already changed the weights the
graph saved. The transcription below writes both out without the library's optimiser or model:
a functional encoder and decoder, Adam as formulas, and the mixed-point backward built layer by
layer (value from the pre-step weights, derivative through the post-step weights).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from synergy.vae._adam041 import Adam041  # noqa: E402
from synergy.vae.training import TrainConfig, Trainer  # noqa: E402

TINY = {
    "grid": "posX=2,posY=2,scale=2,orientation=2",
    "batch_size": 8,
    "progress": False,
    "threads": 1,
    "z_dim": 4,
}
STEPS = 20


def tiny(tmp_path, **kw):
    return TrainConfig(**{**TINY, "out": str(tmp_path / "run"), **kw})


# --- The transcription -----------------------------------------------------------------------

ENCODER_CONVS = (0, 2, 4, 6)  # parameter pairs (weight, bias) in VAE.parameters() order
N_ENCODER = 12  # 4 convolutions + 2 linear layers, weight and bias each


def _layer(kind, h, w, b):
    if kind == "conv":
        return F.conv2d(h, w, b, stride=2, padding=1)
    if kind == "deconv":
        return F.conv_transpose2d(h, w, b, stride=2, padding=1)
    return F.linear(h, w, b)


def encode(x, pre, post=None):
    """The reference encoder. With ``post``, values come from ``pre`` and derivatives go
    through ``post``: y = y(pre) exactly, dy/dh and dy/dW from the layer at ``post``."""
    h = x
    kinds = ["conv"] * 4 + ["linear"] * 2
    for i, kind in enumerate(kinds):
        if kind == "linear" and h.ndim == 4:
            h = h.flatten(1)
        w, b = pre[2 * i], pre[2 * i + 1]
        if post is None:
            y = _layer(kind, h, w, b)
        else:
            moving = _layer(kind, h, post[2 * i], post[2 * i + 1])
            y = _layer(kind, h.detach(), w, b).detach() + (moving - moving.detach())
        h = F.relu(y) if kind == "conv" else y
    z_dim = h.shape[1] // 2
    return h[:, :z_dim], h[:, z_dim:]


def decode(z, params):
    w = params[N_ENCODER:]
    h = F.relu(F.linear(z, w[0], w[1]))
    h = F.relu(F.linear(h, w[2], w[3])).view(-1, 64, 4, 4)
    for i in range(4):
        h = F.conv_transpose2d(h, w[4 + 2 * i], w[5 + 2 * i], stride=2, padding=1)
        if i < 3:
            h = F.relu(h)
    return h


def greedy_worst(kl):
    """The reference code's greedy_policy_Smax_discount on the batch-mean KL vector."""
    chosen, best = [], 0.0
    for _ in range(len(kl)):
        candidate, first = chosen, not chosen
        for j in range(len(kl)):
            if j in chosen:
                continue
            value = float(sum(kl[i] for i in [*chosen, j]))
            if (value if first else 0.9 * value) > best:
                candidate, best = [*chosen, j], value
        chosen = candidate
    return [j for j in range(len(kl)) if j not in chosen]


def kl_terms(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar)  # (B, D)


class Adam041Formulas:
    """torch/optim/adam.py of PyTorch 0.4.1 as formulas (amsgrad off, no weight decay)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        size = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            out.append(p - size * self.m[i] / (self.v[i].sqrt() + self.eps))
        return out


def transcribed_run(params, batches, noises, alpha=5.0):
    adam = Adam041Formulas(params)
    for x, eps in zip(batches, noises, strict=True):
        pre = [p.detach().requires_grad_() for p in params]
        mu, logvar = encode(x, pre)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = decode(z, pre)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        elbo = recon + kl_terms(mu, logvar).sum(1).mean()
        grads = torch.autograd.grad(elbo, pre)
        stepped = adam.step([p.detach() for p in pre], grads)
        post = [p.clone().requires_grad_() for p in stepped[:N_ENCODER]]
        mu, logvar = encode(x, pre[:N_ENCODER], post)
        per_sample = kl_terms(mu, logvar)
        worst = greedy_worst(per_sample.mean(0).detach().tolist())
        penalty = alpha * per_sample[:, worst].sum(1).mean()
        enc_grads = torch.autograd.grad(penalty, post, allow_unused=True)
        pairs = zip(post, enc_grads, strict=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in pairs]
        grads += [torch.zeros_like(p) for p in stepped[N_ENCODER:]]  # zero_grad in 0.4.1
        params = adam.step(stepped, grads)
    return params


def run_trainer(cfg, steps):
    """Train ``steps`` steps; return the initial weights, the batches and the noise used."""
    trainer = Trainer(cfg)
    start = [p.detach().clone() for p in trainer.params]
    draws = Trainer(cfg)  # same seed: the same batches, drawn independently
    batches, noises = [], []
    for t in range(steps):
        batches.append(draws.next_batch())
        torch.manual_seed(1000 + t)
        noises.append(torch.randn(cfg.batch_size, cfg.z_dim))
        torch.manual_seed(1000 + t)  # reparameterize draws the same noise
        trainer.train_step()
    return trainer, start, batches, noises


# --- Tests ------------------------------------------------------------------------------------


def test_reference_update_follows_pytorch_041_over_twenty_steps(tmp_path):
    torch.set_num_threads(1)
    trainer, start, batches, noises = run_trainer(tiny(tmp_path), STEPS)
    expected = transcribed_run(start, batches, noises)
    # Steps move a weight by about lr = 1e-4; the two computations differ only in rounding.
    pairs = zip(trainer.params, expected, strict=True)
    worst = max(float((a.detach() - b).abs().max()) for a, b in pairs)
    assert worst < 1e-6, worst
    for a, b in zip(trainer.params, expected, strict=True):
        torch.testing.assert_close(a.detach(), b, rtol=1e-4, atol=1e-6)


def test_sequential_update_is_not_the_reference(tmp_path):
    # The rule this library called "reference" before (both gradients at the pre-step
    # weights, today's Adam) drifts from the 0.4.1 transcription by far more than rounding:
    # the regression test above tells the two apart.
    torch.set_num_threads(1)
    trainer, start, batches, noises = run_trainer(tiny(tmp_path, update="sequential"), STEPS)
    expected = transcribed_run(start, batches, noises)
    pairs = zip(trainer.params, expected, strict=True)
    worst = max(float((a.detach() - b).abs().max()) for a, b in pairs)
    assert worst > 1e-5, worst


def test_adam041_differs_from_torch_adam_only_by_epsilon():
    # With eps = 0 the two rules are the same algebra (Kingma & Ba, Algorithm 1), so they
    # agree to rounding; with eps = 1e-8 and gradients ~1e-6 they do not.
    torch.manual_seed(0)
    grads = [torch.randn(50) * 1e-6 for _ in range(5)]
    results = {}
    for eps in (0.0, 1e-8):
        for cls in (Adam041, torch.optim.Adam):
            w = torch.nn.Parameter(torch.zeros(50))
            opt = cls([w], lr=1e-3, eps=eps)
            for g in grads:
                w.grad = g.clone()
                opt.step()
            results[cls.__name__, eps] = w.detach().clone()
    torch.testing.assert_close(results["Adam041", 0.0], results["Adam", 0.0])
    gap = (results["Adam041", 1e-8] - results["Adam", 1e-8]).abs().max()
    assert gap > 1e-5  # a step is ~1e-3; 0.4.1's epsilon is ~30x larger at these steps


def test_adam041_zero_grad_keeps_zero_tensors_and_momentum_moves():
    w = torch.nn.Parameter(torch.ones(3))
    opt = Adam041([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    opt.zero_grad()
    assert w.grad is not None
    assert torch.equal(w.grad, torch.zeros(3))
    before = w.detach().clone()
    opt.step()
    assert bool((w.detach() < before).all())  # momentum alone: m = 0.09 > 0


def test_fresh_penalty_batch_is_computed_after_the_first_step(tmp_path):
    # One step of update="sequential", penalty_batch="fresh", written out: ELBO step with
    # torch.optim.Adam, then the penalty of the next batch encoded at the stepped weights.
    cfg = tiny(tmp_path, update="sequential", penalty_batch="fresh")
    trainer = Trainer(cfg)
    params = [p.detach().clone().requires_grad_() for p in trainer.params]
    draws = Trainer(cfg)
    x1, x2 = draws.next_batch(), draws.next_batch()
    torch.manual_seed(5)
    eps = torch.randn(cfg.batch_size, cfg.z_dim)
    torch.manual_seed(5)
    terms = trainer.train_step()
    opt = torch.optim.Adam(params, lr=1e-4)
    mu, logvar = encode(x1, params)
    logits = decode(mu + torch.exp(0.5 * logvar) * eps, params)
    elbo = F.binary_cross_entropy_with_logits(logits, x1, reduction="sum") / len(x1)
    (elbo + kl_terms(mu, logvar).sum(1).mean()).backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    mu2, logvar2 = encode(x2, params)
    per_sample = kl_terms(mu2, logvar2)
    worst = greedy_worst(per_sample.mean(0).detach().tolist())
    penalty = 5.0 * per_sample[:, worst].sum(1).mean()
    penalty.backward()
    opt.step()
    assert sorted(terms.terms["worst"].tolist()) == worst
    torch.testing.assert_close(terms.terms["penalty"].detach(), penalty.detach())
    for a, b in zip(trainer.params, params, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-7)
    # Two batches per step: the sampler is where the pair-drawing copy is.
    assert trainer.sampler.bit_generator.state == draws.sampler.bit_generator.state


def test_fresh_penalty_batch_needs_a_two_step_update():
    from synergy._validate import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="penalty_batch"):
        TrainConfig(update="fused", penalty_batch="fresh")
    with pytest.raises(InvalidParameterError, match="penalty_batch"):
        TrainConfig(penalty_batch="other")
