"""The bounds every certificate is measured between: the naive upper bound and sampled lower bounds.

* Naive: the product of the layers' spectral norms and the activations' Lipschitz constants, each
  norm a proven upper bound and the product rounded up (a rigorous bound in its own right).
* Lower: the true l2 Lipschitz constant is at least ||J(x)||_2 = max_u ||J(x)^T u|| / ||u|| at any input
  where the Jacobian exists, and at least ||f(x) - f(y)|| / ||x - y|| for any pair. Both are maximised:
  Jacobian norms at random inputs; gradient ascent on ||J(x)^T u|| / ||u|| over (x, u) from the best of
  them (moves x towards steeper regions for smooth activations); gradient ascent on the pair ratio
  (which has a gradient even where the Jacobian is piecewise constant, as with ReLU and MaxMin), with
  the Jacobian norm recorded along the way (never the ratio itself, which is rounding noise when the
  output differences are tiny). These are float estimates, not proofs: they test the certified
  bounds. Autograd's derivative of a saturated Tanh or Sigmoid (1 - t^2 with t rounded near 1) can
  exceed the true one, though never the slope bound, so the estimate stays below LipSDP's bounds,
  which hold for every slope in [alpha, beta].
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
    """The largest Jacobian norm found: at Gaussian inputs (std ``scale``), then along ascents from the
    ``starts`` best of them on ||J(x)^T u|| / ||u|| and on pair ratios."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = network.module().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    n = network.widths[0]
    x = (scale * torch.randn(samples, n, generator=generator, dtype=torch.float64)).to(device)
    jacobians = torch.func.vmap(torch.func.jacrev(model))
    jac = jacobians(x)
    norms = torch.nan_to_num(torch.linalg.matrix_norm(jac, ord=2), nan=0.0)  # a NaN sample proves no slope
    best = float(norms.max())
    top = torch.topk(norms, min(starts, samples)).indices
    u, _, vh = torch.linalg.svd(jac[top])
    best = max(best, jacobian_ascent(model, x[top], u[:, :, 0], steps, scale))
    # Pair ratios steer the search where Jacobians are piecewise constant (ReLU, MaxMin), with the step
    # length held at 1e-3 scale; but only Jacobian norms are recorded: a ratio of two rounded outputs can
    # be rounding noise over a small step, far above the true slope.
    start = x[top].clone().requires_grad_(True)
    direction = vh[:, 0, :].clone().requires_grad_(True)
    optimiser = torch.optim.Adam([start, direction], lr=0.01 * scale)
    for step in range(steps):
        optimiser.zero_grad()
        delta = 1e-3 * scale * direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True).clamp_min(1e-300)
        ratio = torch.linalg.vector_norm(model(start + delta) - model(start), dim=-1) / (1e-3 * scale)
        (-ratio.nan_to_num(0.0).sum()).backward()
        optimiser.step()
        if step % 10 == 9 or step == steps - 1:
            best = max(best, float(torch.linalg.matrix_norm(jacobians(start.detach()), ord=2).nan_to_num(0.0).max()))
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
