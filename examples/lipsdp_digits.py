"""Train a small MLP on scikit-learn's digits and certify its l2 Lipschitz constant.

Prints the naive bound (product of spectral norms), LipSDP-Layer and LipSDP-Neuron (each verified
from its multipliers), the lower bound found by sampling and gradient ascent, and a robustness
radius: no input perturbation smaller than margin / (sqrt(2) L) changes the predicted class.

Run: python examples/lipsdp_digits.py
"""

import math

import torch
from sklearn.datasets import load_digits

from games.lipsdp import lipschitz_bound, lower_bound
from games.lipsdp.digits import digits_mlp

model, accuracy = digits_mlp(depth=2, width=32, epochs=200)
print(f"training accuracy {accuracy:.3f}")

torch.save(model, "digits_mlp.pt")  # the game takes it too: discover run lipsdp --param model=digits_mlp.pt
low = lower_bound(model)
for formulation in ("layer", "neuron"):
    result = lipschitz_bound(model, formulation, lower=False)
    print(f"LipSDP-{formulation}: {result.summary()}")
print(f"lower bound (sampled): {low:.4f}")

# certified robustness of the first test point: the logit margin over sqrt(2) L
X, _ = load_digits(return_X_y=True)
logits = model(torch.as_tensor(X[:1] / 16.0, dtype=torch.float32))[0].detach()
top2 = torch.topk(logits, 2).values
radius = float(top2[0] - top2[1]) / (math.sqrt(2) * result.bound)
print(f"digit 0 is predicted {int(logits.argmax())}; no l2 perturbation below {radius:.4f} changes that")
