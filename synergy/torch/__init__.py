"""synergy.torch: the numpy API's measures on torch tensors, differentiable by autograd.

Each function takes a probability table as a floating-point tensor (sources first, the
target last, leading batch axes through ``batch_ndim``), has the arguments of its numpy
namesake (``axes``, ``sources=`` groups, ``base=2``, ``validate=``) and returns a tensor of
the batch shape on the input's device and dtype, with its autograd graph. Importing it needs
torch (``pip install "synergy[torch]"``); ``import synergy`` alone does not import torch.

Gradients are with respect to the table entries as unconstrained numbers: the measures are
written for tables that sum to 1, and a user who parametrises a table (a softmax over
logits, a product of conditionals) gets the chain rule from autograd.

Zero cells. 0 log 0 is 0, and each ``-x log x`` term is computed with a double
``torch.where`` so that no log of 0 is ever taken. The derivative of ``-x log x`` is
``-log x - 1``, which tends to +inf as x -> 0+: there is no finite one-sided derivative
at a zero cell. The gradient returned for that term there is 0, the derivative of the
constant branch. It is what every smooth parametrisation whose derivative vanishes with
the cell (softmax, exp, squares) gives in the limit, since (log x + 1) dx/dtheta -> 0 when
dx/dtheta = O(x); it keeps gradients finite, and cells with positive mass keep their exact
gradient. Only the zero cell's own term is replaced: the other entropies' terms keep their
exact contribution (for example -log p(a) in I(A; Y) when p(a) > 0). So at a zero cell the
partial derivative is a finite surrogate, not the slope of the measure, which can be
infinite there (moving mass into a forbidden cell of a deterministic table lowers I(X; Y)
infinitely fast at first).

Branch switches. I_max and I_min take, at each target outcome, the largest or smallest
specific information over the sources. Away from ties the gradient is that of the active
branch; at ties it is the mean of the tied branches' gradients (``torch.amax`` /
``torch.amin``), an element of the Clarke subdifferential.

Union information and S_VK. ``union_information`` and ``s_vk`` run the certified solver of
synergy.pid on a detached float64 copy in the forward pass, and fit the optimal multipliers
of the marginal constraints to the optimal Q there; the backward pass is the envelope
theorem, one product per table. ``decompose`` gives the atoms of the registered measures
that have a gradient ("imin", "mmi", "imax", "broja"/"vk"). The theory page's "Gradients
of S_VK" derives the gradient and says where it is a subgradient or a finite surrogate.
"""

from synergy.torch._decompose import decompose
from synergy.torch._information import (
    conditional_mutual_information,
    entropy,
    mutual_information,
)
from synergy.torch._pid import i_max, i_min, s_max, wms
from synergy.torch._vk import s_vk, union_information

__all__ = [
    "conditional_mutual_information",
    "decompose",
    "entropy",
    "i_max",
    "i_min",
    "mutual_information",
    "s_max",
    "s_vk",
    "union_information",
    "wms",
]
