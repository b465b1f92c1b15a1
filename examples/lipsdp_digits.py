"""Train a small MLP on scikit-learn's digits and certify its l2 Lipschitz constant.

Prints the naive bound (product of spectral norms), LipSDP-Layer and LipSDP-Neuron (each verified
from its multipliers), the lower bound found by sampling and gradient ascent, and a robustness
radius: no input perturbation smaller than margin / (sqrt(2) L) changes the predicted class.

Run: python examples/lipsdp_digits.py
"""

import math

import torch
from sklearn.datasets import load_digits
from torch import nn

from games.lipsdp import lipschitz_bound, lower_bound

X, y = load_digits(return_X_y=True)
X = torch.as_tensor(X / 16.0, dtype=torch.float32)
y = torch.as_tensor(y)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
for _ in range(200):
    optimiser.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    optimiser.step()
print(f"training accuracy {(model(X).argmax(1) == y).float().mean():.3f}")

torch.save(model, "digits_mlp.pt")  # the game takes it too: discover run lipsdp --param model=digits_mlp.pt
low = lower_bound(model)
for formulation in ("layer", "neuron"):
    result = lipschitz_bound(model, formulation, lower=False)
    print(f"LipSDP-{formulation}: {result.summary()}")
print(f"lower bound (sampled): {low:.4f}")

# certified robustness of the first test point: the logit margin over sqrt(2) L
logits = model(X[:1])[0].detach()
top2 = torch.topk(logits, 2).values
radius = float(top2[0] - top2[1]) / (math.sqrt(2) * result.bound)
print(f"digit 0 is predicted {int(logits.argmax())}; no l2 perturbation below {radius:.4f} changes that")
