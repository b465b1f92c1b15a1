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


def test_an_overflowing_radius_is_a_number_and_nan_never_bounds_anything():
    """margin / (sqrt 2 L) past the float range rounds down to inf - inf = NaN; the radius is then
    the largest float (a true lower bound), never NaN, which the exhaustive game would read as
    "skip every image"; a NaN norm is bounded by inf, not 0."""
    from games.feature_guided.exhaustive import game_radius
    from games.feature_guided.rules import Rules
    from games.lipsdp.network import ACTIVATION_NAMES
    from games.lipsdp.rigorous import sqrt_up

    net = Network((np.eye(2), np.eye(2)), (np.zeros(2), np.array([1e300, -1e300])), (ACTIVATION_NAMES["relu"],))
    result = certified_radius(net, np.array([0.3, 0.2]), 1e-10)
    assert result.margin > 0 and result.radius == np.finfo(float).max
    assert sqrt_up(float("nan")) == float("inf")
    with pytest.raises(ValueError, match="certified radius"):
        game_radius(None, np.full((1, 2, 2), 0.5), 0, [0], Rules("l2", tau=0.5), max_queries=10,
                    certified=float("nan"))
