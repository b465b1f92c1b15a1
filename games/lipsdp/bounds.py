"""The bounds every certificate is measured between: the naive upper bound and sampled lower bounds.

* Naive: the product of the layers' spectral norms and the activations' Lipschitz constants, each
  norm a proven upper bound and the product rounded up (a rigorous bound in its own right).
* Lower: the true l2 Lipschitz constant is at least ||J(x)||_2 at any input where the Jacobian exists,
  and at least ||f(x) - f(y)|| / ||x - y|| for any pair. Both are maximised: Jacobian norms at random
  inputs, then gradient ascent on the pair ratio from the best of them (the ratio has a gradient even
  where the Jacobian is piecewise constant, as with ReLU and MaxMin).
"""

from __future__ import annotations

import numpy as np
import torch

from games.lipsdp.network import Network
from games.lipsdp.rigorous import mul_up, spectral_norm_up


def naive_bound(network: Network) -> float:
    """prod ||W_k||_2 prod Lip(phi_k), every factor and product rounded up."""
    return mul_up(*(spectral_norm_up(W) for W in network.weights), *(a.lipschitz for a in network.activations))


def lower_bound(network: Network, samples: int = 512, steps: int = 200, scale: float = 1.0, seed: int = 0,
                device: str | None = None) -> float:
    """The largest slope found: Jacobian norms at Gaussian inputs, then ascent on pair ratios."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = network.module().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    n = network.widths[0]
    x = (scale * torch.randn(samples, n, generator=generator, dtype=torch.float64)).to(device)
    jac = torch.func.vmap(torch.func.jacrev(model))(x)
    norms = torch.linalg.matrix_norm(jac, ord=2)
    best = float(norms.max())
    # pair ratios from the best points, along their top right-singular vectors
    top = torch.topk(norms, min(16, samples)).indices
    _, _, vh = torch.linalg.svd(jac[top])
    start = x[top].clone().requires_grad_(True)
    delta = (1e-3 * scale * vh[:, 0, :]).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([start, delta], lr=0.01 * scale)
    for _ in range(steps):
        optimiser.zero_grad()
        ratio = torch.linalg.vector_norm(model(start + delta) - model(start), dim=-1) / \
            torch.linalg.vector_norm(delta, dim=-1).clamp_min(1e-12)
        best = max(best, float(ratio.detach().max()))
        (-ratio.sum()).backward()
        optimiser.step()
    return best
