"""Train a small MLP on scikit-learn's digits and certify its l2 Lipschitz constant.

Prints the naive bound (product of spectral norms), LipSDP-Layer and LipSDP-Neuron (each verified
from its multipliers), the lower bound found by sampling and gradient ascent, and a certified
robustness radius: no input perturbation smaller than margin / (sqrt(2) L) changes the predicted
class (games/lipsdp/robustness.py: the margin from an enclosure of the logits, the radius rounded down).

Run: python examples/lipsdp_digits.py
"""

import torch
from sklearn.datasets import load_digits

from discover.decimals import decimal_down
from games.lipsdp import lipschitz_bound, load_network, lower_bound
from games.lipsdp.digits import digits_mlp
from games.lipsdp.robustness import certified_radius

model, accuracy = digits_mlp(depth=2, width=32, epochs=200)
print(f"training accuracy {accuracy:.3f}")

torch.save(model, "digits_mlp.pt")  # the game takes it too: discover run lipsdp --param model=digits_mlp.pt
low = lower_bound(model)
for formulation in ("layer", "neuron"):
    result = lipschitz_bound(model, formulation, lower=False)
    print(f"LipSDP-{formulation}: {result.summary()}")
print(f"lower bound (sampled): {low:.4f}")

# certified robustness of the first test point: a proven lower bound of the logit margin over sqrt(2) L,
# for the exact function of the network's weights (the float32 forward pass rounds differently)
X, _ = load_digits(return_X_y=True)
robust = certified_radius(load_network(model), X[0] / 16.0, result.bound)
print(f"digit 0 is predicted {robust.label}; no l2 perturbation below {decimal_down(robust.radius)} changes that (proven)")
