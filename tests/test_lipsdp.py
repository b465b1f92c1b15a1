"""LipSDP: every verified bound is sound, formulations compare as the theory says, bad input is refused."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from torch import nn

from discover.types import EvalContext, Outcome, Status
from games.lipsdp import LipSDPGame, MaxMin, lipschitz_bound, load_network, lower_bound, naive_bound, random_network
from games.lipsdp.digits import digits_mlp
from games.lipsdp.formulation import segments
from games.lipsdp.network import ACTIVATION_NAMES, Network
from games.lipsdp.solve import solve_segment


def orthogonal_maxmin(width=8, depth=3):
    weights = tuple(ortho_group.rvs(width, random_state=k) for k in range(depth + 1))
    return Network(weights, tuple(np.zeros(width) for _ in weights), (ACTIVATION_NAMES["maxmin"],) * depth)


NETWORKS = {
    "relu": lambda: random_network([12, 16, 16, 4], "relu", seed=1),
    "tanh": lambda: random_network([12, 16, 16, 4], "tanh", seed=2),
    "maxmin": lambda: random_network([12, 16, 16, 4], "maxmin", seed=3),
    "digits": lambda: load_network(digits_mlp()[0]),
}


# maxmin (10 s) and digits (10 s) are slow: maxmin's other tests cover it by default, and a digits
# MLP's verified bound is exercised by default in test_lipsdp_robustness (its certified radii)
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("maxmin", "digits") else n
                                  for n in sorted(NETWORKS)])
def test_verified_bounds_are_sound_and_ordered(name):
    network = NETWORKS[name]()
    low = lower_bound(network, samples=256, steps=100)
    neuron = lipschitz_bound(network, "neuron", lower=False)
    layer = lipschitz_bound(network, "layer", lower=False)
    assert neuron.verified and layer.verified
    assert low <= neuron.bound and low <= layer.bound
    assert neuron.bound <= layer.bound * (1 + 1e-5)  # per-neuron multipliers contain per-layer ones
    assert neuron.bound <= naive_bound(network) * (1 + 1e-9)


def test_digits_mlp_trains():
    _, accuracy = digits_mlp()
    assert accuracy > 0.9


def test_orthogonal_maxmin_is_certified_one_but_not_as_a_residual_relu_network():
    network = orthogonal_maxmin()
    sum_preserving = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-8, lower=False)
    residual = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-8, encoding="residual-relu",
                               lower=False)
    assert 1.0 <= sum_preserving.lipsdp <= 1.0 + 1e-6
    assert residual.lipsdp > 1.0 + 1e-4 and residual.method == "naive"  # the naive product (1) is then smaller
    assert lower_bound(network, samples=128, steps=50) == pytest.approx(1.0, abs=1e-6)  # MaxMin o orthogonal is 1


def test_loose_solves_never_report_below_the_optimum():
    """SCS at a loose tolerance (and no strictness margin) may claim less than the optimum; the verified
    bound never does."""
    network = random_network([10, 24, 24, 24, 3], "relu", seed=18)
    optimum = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-9, lower=False).bound
    below = 0
    for tolerance in (1e-1, 1e-2, 1e-3):
        loose = lipschitz_bound(network, "neuron", solver="SCS", tolerance=tolerance, fallback=False, strictness=0.0,
                                lower=False)
        below += loose.claimed is not None and loose.claimed < optimum * (1 - 1e-6)
        if loose.verified:
            assert loose.bound >= optimum * (1 - 1e-7)
    assert below, "no loose solve claimed less than the optimum: the test exercises nothing"


def test_chordal_splitting_and_reduction_behave():
    network = random_network([40, 12, 12, 12, 3], "relu", seed=5)  # wide input: rank 12
    mono = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-8, lower=False)
    chordal = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-8, chordal=True, lower=False)
    split = lipschitz_bound(network, "neuron", solver="CLARABEL", tolerance=1e-8, cuts=(1, 2), lower=False)
    assert chordal.bound == pytest.approx(mono.bound, rel=1e-5)
    assert split.bound >= mono.bound * (1 - 1e-6)
    full, reduced = segments(network, reduce=False)[0], segments(network)[0]
    assert full.sizes[0] == 40 and reduced.sizes[0] == 12
    a = solve_segment(full, "neuron", solver="CLARABEL", tolerance=1e-8).verified.bound
    b = solve_segment(reduced, "neuron", solver="CLARABEL", tolerance=1e-8).verified.bound
    assert a == pytest.approx(b, rel=1e-5)


def test_networks_load_from_modules_files_and_npz(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.LeakyReLU(0.1), nn.Linear(4, 4), MaxMin(), nn.Linear(4, 2))
    from_module = load_network(model)
    torch.save(model, tmp_path / "model.pt")
    from_file = load_network(tmp_path / "model.pt")
    np.savez(tmp_path / "w.npz", W0=from_module.weights[0], b0=from_module.biases[0], W1=from_module.weights[1],
             b1=from_module.biases[1], W2=from_module.weights[2], b2=from_module.biases[2],
             activations=np.array(["relu", "maxmin"]))
    from_npz = load_network(tmp_path / "w.npz")
    assert from_module.widths == from_file.widths == from_npz.widths == (6, 4, 4, 2)
    assert [a.name for a in from_file.activations] == ["leaky_relu", "maxmin"]
    x = torch.randn(5, 6, dtype=torch.float64)
    assert torch.allclose(from_module.module()(x), model.double()(x))


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(4, 2)), "convolutions are not supported"),
    (nn.Linear(3, 2), "not an nn.Sequential"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), "takes 5 inputs but layer 0 gives 4"),
    (nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2)), "Softmax is not a supported layer"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU()), "must end with a Linear"),
])
def test_unsupported_models_are_refused_with_the_layer(model, match):
    with pytest.raises(ValueError, match=match):
        load_network(model)


def test_bad_weights_and_files_are_refused(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="linear layer 0: weights or bias contain NaN"):
        load_network(model)
    torch.save(nn.Sequential(nn.Linear(3, 2)).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ValueError, match="state dict"):
        load_network(tmp_path / "sd.pt")
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="no hidden layer"):
        lipschitz_bound(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="only the l2 norm"):
        lipschitz_bound(random_network([3, 4, 2]), norm="linf")


def test_game_evaluates_verifies_and_catches_forgeries():
    game = LipSDPGame("demo-maxmin")
    state = ("sum-preserving", False, True, "neuron", "monolithic", "CLARABEL", 1e-8)
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK and -outcome.value == pytest.approx(1.0, abs=1e-6)
    assert game.verify(state, outcome) is None
    segments_ = [dict(s, multipliers=[list(np.asarray(t) * 0.5) for t in s["multipliers"]])
                 for s in outcome.artifacts["segments"]]
    forged = Outcome.ok(outcome.value, dict(outcome.artifacts, segments=segments_))
    assert game.verify(state, forged) is not None
