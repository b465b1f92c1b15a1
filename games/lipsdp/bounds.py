"""The bounds every certificate is measured between: the naive upper bound and sampled lower bounds.

* Naive: the product of the layers' spectral norms and the activations' Lipschitz constants, each
  norm a proven upper bound and the product rounded up (a rigorous bound in its own right).
* Lower: the true l2 Lipschitz constant is at least ||J(x)||_2 = max_u ||J(x)^T u|| / ||u|| at any input
  where the Jacobian exists, and at least ||f(x) - f(y)|| / ||x - y|| for any pair. Both are maximised:
  Jacobian norms at random inputs; gradient ascent on ||J(x)^T u|| / ||u|| over (x, u) from the best of
  them (moves x towards steeper regions for smooth activations); gradient ascent on the pair ratio
  (which has a gradient even where the Jacobian is piecewise constant, as with ReLU and MaxMin).
  These are float estimates (rounding ~1e-12 relative), not proofs: they test the certified bounds.
"""

from __future__ import annotations

import torch

from games.lipsdp.network import Network
from games.lipsdp.rigorous import mul_up, spectral_norm_up


def naive_bound(network: Network) -> float:
    """prod ||W_k||_2 prod Lip(phi_k), every factor and product rounded up."""
    return mul_up(*(spectral_norm_up(W) for W in network.weights), *(a.lipschitz for a in network.activations))


def lower_bound(network: Network, samples: int = 512, steps: int = 200, scale: float = 1.0, seed: int = 0,
                device: str | None = None, starts: int = 16) -> float:
    """The largest slope found: Jacobian norms at Gaussian inputs (std ``scale``), then ascent from the
    ``starts`` best of them on ||J(x)^T u|| / ||u|| and on pair ratios."""
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
    top = torch.topk(norms, min(starts, samples)).indices
    u, _, vh = torch.linalg.svd(jac[top])
    best = max(best, jacobian_ascent(model, x[top], u[:, :, 0], steps, scale))
    # pair ratios from the best points, along their top right-singular vectors
    start = x[top].clone().requires_grad_(True)
    delta = (1e-3 * scale * vh[:, 0, :]).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([start, delta], lr=0.01 * scale)
    for _ in range(steps):
        optimiser.zero_grad()
        ratio = torch.linalg.vector_norm(model(start + delta) - model(start), dim=-1) / \
            torch.linalg.vector_norm(delta, dim=-1).clamp_min(1e-300)
        best = max(best, float(ratio.detach().nan_to_num(0.0).max()))
        (-ratio.sum()).backward()
        optimiser.step()
    return best


def jacobian_ascent(model: torch.nn.Module, x: torch.Tensor, u: torch.Tensor, steps: int, scale: float) -> float:
    """max over the path of Adam ascent on ||J(x)^T u|| / ||u|| (x: starts x inputs, u: starts x outputs)."""
    x, u = x.clone().requires_grad_(True), u.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([{"params": [x], "lr": 0.01 * scale}, {"params": [u], "lr": 0.01}])
    best = 0.0
    for _ in range(steps):
        optimiser.zero_grad()
        (row,) = torch.autograd.grad(model(x), x, grad_outputs=u, create_graph=True)  # J(x)^T u per start
        gain = torch.linalg.vector_norm(row, dim=-1) / torch.linalg.vector_norm(u, dim=-1).clamp_min(1e-300)
        best = max(best, float(gain.detach().nan_to_num(0.0).max()))
        (-gain.sum()).backward()
        optimiser.step()
    return best
