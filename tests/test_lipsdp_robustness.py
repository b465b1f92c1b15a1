"""The certified robustness radius: enclosures of the logits hold, and no perturbation inside the
radius changes the class."""

import numpy as np
import pytest
import torch

from games.lipsdp import lipschitz_bound, random_network
from games.lipsdp.digits import digits_mlp
from games.lipsdp.network import Activation, Network, load_network
from games.lipsdp.robustness import certified_radius, logit_enclosure


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "elu", "maxmin"])
def test_the_enclosure_holds_the_logits_and_is_narrow(activation):
    network = random_network([6, 8, 8, 4], activation, seed=3)
    module = network.module()
    rng = np.random.default_rng(0)
    for x in rng.normal(size=(20, 6)):
        lo, hi = logit_enclosure(network, x)
        with torch.no_grad():
            y = module(torch.as_tensor(x)[None])[0].numpy()
        assert np.all(lo <= y) and np.all(y <= hi)
        assert np.all(hi - lo <= 1e-12 * (1 + np.abs(y)))


def test_no_perturbation_inside_the_radius_changes_the_class():
    model, _ = digits_mlp(depth=2, width=32, epochs=100)
    network = load_network(model)
    bound = lipschitz_bound(network, "layer", lower=False).bound
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    rng = np.random.default_rng(1)
    module = network.module()
    certified = 0
    for x in X[:10] / 16.0:
        result = certified_radius(network, x, bound)
        if result.radius == 0:
            continue
        certified += 1
        d = rng.normal(size=(2000, x.size))
        d *= 0.999 * result.radius / np.linalg.norm(d, axis=1, keepdims=True)
        with torch.no_grad():
            labels = module(torch.as_tensor(x + d)).argmax(1).numpy()
        assert np.all(labels == result.label)
        assert result.margin > 0 and result.radius <= result.margin / (np.sqrt(2) * bound)
    assert certified >= 5


def test_a_non_monotone_activation_is_refused():
    W = (np.eye(2), np.eye(2))
    b = (np.zeros(2), np.zeros(2))
    leaky = Network(W, b, (Activation("leaky_relu", -0.5, 1.0, parameter=-0.5),))
    with pytest.raises(ValueError, match="not monotone"):
        certified_radius(leaky, np.ones(2), 2.0)
    with pytest.raises(ValueError, match="positive and finite"):
        certified_radius(random_network([2, 2, 2]), np.ones(2), 0.0)


@pytest.mark.parametrize("x", [0.1673249, 0.16732501, 2.0, -1.23456789, 1e-300, 7.0e22])
def test_printed_lower_bounds_round_down(x):
    from decimal import Decimal

    from discover.decimals import decimal_down, decimal_up

    assert Decimal(decimal_down(x)) <= Decimal(x) <= Decimal(decimal_up(x))
