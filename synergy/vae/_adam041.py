"""Adam as PyTorch 0.4.1 computed it, for the ``reference`` update of the Non-Syn VAE trainer.

Two things differ from ``torch.optim.Adam`` today: where epsilon enters the denominator, and
that the parameters are written through ``p.data`` (in place, unseen by autograd).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["Adam041"]


class Adam041(torch.optim.Optimizer):
    """Adam with PyTorch 0.4.1's update rule and its in-place write of ``p.data``.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to optimise.
    lr : float, default 1e-3
        Learning rate.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default 1e-8
        Added to the square root of the *uncorrected* second moment.

    Notes
    -----
    ``step`` follows ``torch/optim/adam.py`` of PyTorch 0.4.1 (``amsgrad=False``,
    ``weight_decay=0``), line by line:

    ===========================================  ==============================================
    0.4.1                                        here
    ===========================================  ==============================================
    ``if p.grad is None: continue``              the same: a parameter without a gradient stays
    ``state['step'] += 1``                       the same count (kept as a float32 tensor)
    ``exp_avg.mul_(beta1).add_(1 - beta1,        ``m = beta1 m + (1 - beta1) g``
    grad)``
    ``exp_avg_sq.mul_(beta2).addcmul_(1 -        ``v = beta2 v + (1 - beta2) g * g``
    beta2, grad, grad)``
    ``denom = exp_avg_sq.sqrt().add_(eps)``      ``sqrt(v) + eps``: epsilon on the uncorrected
                                                 moment
    ``step_size = lr * sqrt(bias_correction2)    both bias corrections folded into the step size
    / bias_correction1``
    ``p.data.addcdiv_(-step_size, exp_avg,       ``p.data -= step_size * m / denom``, in place
    denom)``
    ===========================================  ==============================================

    ``torch.optim.Adam`` today computes ``lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)``: the
    same update except that its epsilon is ``eps * sqrt(bc2)`` in 0.4.1's terms, so 0.4.1's
    epsilon weighs ``1 / sqrt(1 - beta2 ** t)`` times more (about 32 times at step 1 with
    beta2 = 0.999).

    Writing ``p.data`` leaves the parameter's version counter alone, as 0.4.1 did. A graph
    that saved a parameter for its backward (a convolution's or a linear layer's weight) then
    reads the *new* values in a later backward on that graph, while the activations it saved
    keep the values of the forward pass. The Non-Syn VAE's reference code relied on this,
    unknowingly: its penalty's backward ran on the retained graph after the first Adam step.
    ``torch.optim.Adam`` now writes the parameters in place as autograd sees it, and that
    second backward raises an error instead.

    ``zero_grad`` keeps 0.4.1's behaviour by default: gradients become zero tensors, not
    ``None``, so a following ``step`` still moves every parameter by its momentum.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adam041([w], lr=0.1)
    >>> w.grad = torch.tensor([2.0])
    >>> _ = opt.step()
    >>> round(float(w), 6)  # m = 0.2, v = 0.004, step size 0.1 * sqrt(0.001) / 0.1
    0.9
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        from synergy._validate import describe, invalid

        if not lr > 0:
            raise invalid("lr", "Adam041", "a positive float", describe(lr))
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise invalid("betas", "Adam041", "two floats in [0, 1)", describe(betas))
        if not eps >= 0:
            raise invalid("eps", "Adam041", "a non-negative float", describe(eps))
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient in place (0.4.1: ``detach_`` then ``zero_``), or drop them."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One Adam update of every parameter that has a gradient (see Notes)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p.data)
                    state["exp_avg_sq"] = torch.zeros_like(p.data)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                # Counted as an int (0.4.1), stored as torch.optim.Adam stores it (a float32
                # tensor, exact to 2**24 steps), so checkpoints keep one layout.
                t = int(state["step"]) + 1
                state["step"] = torch.tensor(float(t))
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                step_size = group["lr"] * math.sqrt(bias_correction2) / bias_correction1
                p.data.addcdiv_(exp_avg, denom, value=-step_size)
        return loss
