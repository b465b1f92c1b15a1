"""A small ReLU MLP trained on scikit-learn's digits (shipped with the package): a real network to certify."""

from __future__ import annotations

import torch
from torch import nn


def digits_mlp(depth: int = 2, width: int = 32, epochs: int = 150, lr: float = 0.01,
               seed: int = 0) -> tuple[nn.Sequential, float]:
    """64 inputs (8x8 images scaled to [0, 1]), ``depth`` hidden ReLU layers, 10 logits; full-batch Adam.

    Returns the model and its training accuracy.
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = torch.as_tensor(X / 16.0, dtype=torch.float32), torch.as_tensor(y)
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k in range(depth):
        layers += [nn.Linear(64 if k == 0 else width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        optimiser.step()
    with torch.no_grad():
        accuracy = float((model(X).argmax(1) == y).float().mean())
    return model, accuracy
