"""Tables as torch tensors: the one torch import of synergy.torch, its checks and entropy sum.

A missing torch raises an ImportError naming the extra; every other module of the package
imports ``torch`` and ``Tensor`` from here.
"""

from __future__ import annotations

import math
from typing import Any

from synergy._validate import (
    InvalidDistributionError,
    InvalidTypeError,
    check_batch_ndim,
    describe,
    invalid,
)

try:
    import torch
    from torch import Tensor
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without torch
    raise ImportError(
        "synergy.torch needs PyTorch, which is an optional extra: install it with "
        '`pip install "synergy[torch]"` (on a CPU-only machine install a CPU build of torch '
        "first, e.g. `pip install torch --index-url https://download.pytorch.org/whl/cpu`)."
    ) from exc

__all__ = [
    "Tensor",
    "as_table_tensor",
    "entropy_nats",
    "marginal",
    "neg_xlogx",
    "sum_tolerance",
    "torch",
]


def sum_tolerance(dtype: torch.dtype) -> float:
    """How far a table's total may sit from 1: the square root of the dtype's epsilon.

    The same rule as the numpy side's ``synergy._validate.sum_tolerance`` (1.5e-8 for
    float64, 3.5e-4 for float32), extended to bfloat16.
    """
    return math.sqrt(torch.finfo(dtype).eps)


def _describe_tensor(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return describe(x)


def as_table_tensor(
    p: Any,
    *,
    func: str,
    batch_ndim: Any,
    validate: bool,
    param: str = "p",
    min_table_ndim: int = 1,
) -> tuple[Tensor, int]:
    """Check that ``p`` is a float tensor of probability tables; return it and ``batch_ndim``.

    Type, shape and ``batch_ndim`` are always checked (they cost no device sync); values
    (finite, non-negative, each table summing to 1 within :func:`sum_tolerance` of the
    tensor's dtype) only when ``validate``, in one sync. The messages are the numpy side's.
    """
    batch_ndim = check_batch_ndim(batch_ndim, func)
    if not isinstance(p, Tensor) or not p.is_floating_point() or p.is_complex():
        raise invalid(
            param,
            func,
            "a floating-point torch.Tensor (convert arrays with torch.as_tensor)",
            _describe_tensor(p),
            kind=InvalidTypeError,
        )
    table_ndim = p.ndim - batch_ndim
    if table_ndim < min_table_ndim:
        raise invalid(
            param,
            func,
            f"an array with at least {min_table_ndim} table axes after "
            f"batch_ndim={batch_ndim} batch axes",
            f"an array with {p.ndim} axes",
            kind=InvalidDistributionError,
        )
    if validate:
        _check_values(p, batch_ndim, param=param, func=func)
    return p, batch_ndim


def _check_values(p: Tensor, batch_ndim: int, *, param: str, func: str) -> None:
    # As on the numpy side: a batch of zero tables is valid, an empty table axis is not.
    if 0 in p.shape[batch_ndim:]:
        raise invalid(
            param,
            func,
            "a non-empty table (every axis of length >= 1)",
            f"an array of shape {tuple(p.shape)}",
            kind=InvalidDistributionError,
        )
    tol = sum_tolerance(p.dtype)
    with torch.no_grad():
        x = p.detach()
        table_axes = tuple(range(batch_ndim, x.ndim))
        # Totals in float64, so that the sum itself does not eat the float32 tolerance;
        # MPS has no float64, and there the tensor's own dtype has to do.
        wide = torch.float32 if x.device.type == "mps" else torch.float64
        totals = x.to(wide).sum(dim=table_axes)
        bad_cells = ~torch.isfinite(x) | (x < 0)
        off = (totals - 1.0).abs()
        ok = bool(~bad_cells.any() & (off <= tol).all())  # the one device sync
        if ok:
            return
        if not bool(torch.isfinite(x).all()):
            bad = float(x[~torch.isfinite(x)].reshape(-1)[0])
            raise invalid(
                param,
                func,
                "finite (no NaN or infinity)",
                f"a table containing {bad!r}",
                kind=InvalidDistributionError,
            )
        if bool((x < 0).any()):
            raise invalid(
                param,
                func,
                "non-negative",
                f"a table whose smallest entry is {float(x.min())!r}",
                kind=InvalidDistributionError,
            )
        worst = float(totals.reshape(-1)[int(off.reshape(-1).argmax())])
        where = "" if batch_ndim == 0 else " (per table over the table axes)"
        raise invalid(
            param,
            func,
            f"a probability table summing to 1 within {tol:.2g}{where}",
            f"a sum of {worst!r}",
            kind=InvalidDistributionError,
        )


def neg_xlogx(x: Tensor) -> Tensor:
    """-x log x elementwise in nats, 0 at x = 0, with a finite gradient there.

    The double ``where`` keeps the unused branch's log away from 0, so that its gradient
    (which autograd multiplies by 0) is finite rather than NaN. At x = 0 the gradient is
    0, the gradient of the constant branch; see the package docstring for why.
    """
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, -safe * torch.log(safe), torch.zeros_like(x))


def marginal(p: Tensor, batch_ndim: int, keep: tuple[int, ...]) -> Tensor:
    """Sum out every table axis not in ``keep`` (sorted table axes); keeps axis order."""
    table_ndim = p.ndim - batch_ndim
    drop = [batch_ndim + i for i in range(table_ndim) if i not in keep]
    return p.sum(dim=drop) if drop else p


def entropy_nats(p: Tensor, batch_ndim: int, axes: tuple[int, ...]) -> Tensor:
    """H in nats of the marginal over ``axes`` (sorted table axes), shape ``batch``."""
    if not axes:
        return p.new_zeros(p.shape[:batch_ndim])
    m = marginal(p, batch_ndim, axes)
    return neg_xlogx(m).sum(dim=tuple(range(batch_ndim, m.ndim)))
