"""The feature-guided game's exhaustive lower bound, continuous steps, device choice and CLI surrogate."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from discover.errors import ParameterError
from discover.methods import default_surrogate, make_estimator, surrogate_planner
from discover.planner import Planner
from discover.types import Outcome
from games.feature_guided import BlackBox, FeatureGuidedGame, Rules, distance, find_adversarial, game_radius
from games.feature_guided.api import SaliencyEstimator
from games.feature_guided.blackbox import torch_device
from games.feature_guided.data import digits
from games.feature_guided.exhaustive import reachable
from games.feature_guided.game import Steps
from games.toy import DiceGame


class Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias

    def forward(self, x):
        return x.flatten(1) @ self.weight.T + self.bias


def brute_force_radius(model, image, label, pixels, rules) -> float:
    """The closest misclassified image among every combination of the pixels' reachable values."""
    c, h, w = image.shape
    flat = image.reshape(c, h * w)
    options = [[None, *reachable(flat[:, p], rules.tau, rules.rounds)] for p in pixels]
    best = math.inf
    with torch.no_grad():
        for combo in itertools.product(*options):
            x = flat.copy()
            for p, v in zip(pixels, combo):
                if v is not None:
                    x[:, p] = v
            x = x.reshape(c, h, w)
            if int(model(torch.as_tensor(x[None])).argmax(1)) != label:
                best = min(best, distance(image, x, rules.norm))
    return best


@pytest.mark.parametrize("norm", ["l0", "l1", "l2", "linf"])
def test_the_game_radius_is_the_closest_adversarial_game_image(norm):
    """Against brute force over all combinations of reachable pixel values (2 channels, tau 0.5)."""
    rng = np.random.default_rng(3)
    model = Linear(torch.as_tensor(rng.normal(size=(3, 18)), dtype=torch.float32), torch.tensor([0.8, 0.0, 0.0]))
    image = rng.random((2, 3, 3)).astype(np.float32)
    label = int(model(torch.as_tensor(image[None])).argmax(1))
    rules, pixels = Rules(norm=norm, tau=0.5), [0, 3, 4, 5, 8]
    truth = brute_force_radius(model, image, label, pixels, rules)
    assert math.isfinite(truth)
    found = game_radius(BlackBox(model, device="cpu"), image, label, pixels, rules, max_queries=10**6)
    assert found.exact and math.isclose(found.radius, truth, rel_tol=1e-9)
    assert int(model(torch.as_tensor(found.image[None])).argmax(1)) != label
    # with fewer queries than it needs, it is a lower bound, and more queries never lower it
    bounds = [game_radius(BlackBox(model, device="cpu"), image, label, pixels, rules, max_queries=q).radius
              for q in (1, 5, 20)]
    assert all(b <= truth for b in bounds) and bounds == sorted(bounds)
    # skipping images inside a certified radius keeps the answer when the radius is a true one
    certified = 0.5 * truth
    skipping = game_radius(BlackBox(model, device="cpu"), image, label, pixels, rules, 10**6, certified=certified)
    assert skipping.exact and math.isclose(skipping.radius, truth, rel_tol=1e-9)


def test_the_game_radius_sees_every_value_a_pixel_reaches_within_the_rounds():
    # class 1 once pixel 5 exceeds 0.7: 71 moves of tau = 0.01 reach it, within 100 rounds (a search
    # cut at 64 moves per pixel once called this game's images all safe, "exact")
    def model(x):
        p1 = (x[:, 0, 1, 1] > 0.7).double()
        return torch.stack([1 - p1, p1], 1)

    image = np.zeros((1, 4, 4), np.float32)
    rules = Rules(norm="l2", tau=0.01, rounds=100)
    found = game_radius(BlackBox(model, device="cpu"), image, 0, [5], rules, max_queries=10_000)
    assert found.exact and 0.7 < found.radius < 0.72 and found.image[0, 1, 1] > 0.7
    few = game_radius(BlackBox(model, device="cpu"), image, 0, [5], Rules(norm="l2", tau=0.01, rounds=60), 10_000)
    assert few.exact and few.radius == math.inf  # 60 moves cannot pass 0.6: the game as played is safe
    # three channels clipped at different times reach too many vectors to enumerate: no exact claim
    many = game_radius(BlackBox(model, device="cpu"), np.full((3, 4, 4), 0.37, np.float32) * np.arange(1, 4)[:, None, None] / 2,
                       0, [5], Rules(norm="l2", tau=1 / 255, rounds=400), 10_000, certified=0.01)
    assert not many.exact and many.radius == 0.01 and "not enumerated" in many.reason


def test_find_adversarial_brackets_the_game_with_the_exhaustive_search():
    images, labels = digits("test")
    model = Linear(torch.zeros(10, 256), torch.zeros(10))
    torch.manual_seed(0)
    with torch.no_grad():
        model.weight.normal_()
    i = next(k for k in range(50) if int(model(torch.as_tensor(images[k][None])).argmax(1)) == labels[k])
    result = find_adversarial(model, images[i], int(labels[i]), budget=40, extractor="grid", count=4, pixels=4,
                              exhaustive=3000, certify=False)
    assert result.game_radius is not None and result.game_note
    if result.found:
        assert result.game_radius <= result.distance + 1e-9
        assert result.game_bracket == (result.game_radius, result.distance)
    with pytest.raises(ParameterError, match="exhaustive"):
        find_adversarial(model, images[i], budget=5, exhaustive=-1)


def test_continuous_steps_are_continuous_moves_of_player_two():
    game = FeatureGuidedGame(model="demo", image=3, extractor="grid", count=4, pixels=8, magnitude="continuous",
                             device="cpu")
    state = game.apply(game.initial_state(), 0)
    steps = game.actions(state)
    assert isinstance(steps, Steps)
    rng = np.random.default_rng(0)
    draws = [steps.sample(rng) for _ in range(200)]
    assert all(0 < abs(step) <= 1 for _, step in draws) and len({step for _, step in draws}) == 200
    assert {pixel for pixel, _ in draws} <= set(game.target.features.features[0].pixels)
    planner = Planner(game, estimator=SaliencyEstimator(), config=surrogate_planner("saliency"), seed=0)
    for proposal in planner.ask(16):
        manipulations = proposal.state[1::2]
        assert manipulations and all(isinstance(step, float) for _, step in manipulations)
        image = game.target.current(proposal.state)
        assert image.min() >= 0 and image.max() <= 1
        planner.tell(proposal, Outcome.ok(game.target.value(game.target.play(proposal.state))))
    with pytest.raises(ParameterError, match="cooperative or adversarial"):
        Rules(player2="random", magnitude="continuous")


def test_device_choice_gets_one_clear_line():
    assert torch_device("cpu") == "cpu"
    assert torch_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ParameterError, match="device must be"):
        torch_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            FeatureGuidedGame(model="demo", image=0, device="cuda")
        assert FeatureGuidedGame(model="demo", image=0).resources(()).gpus == 0


def test_the_feature_guided_game_defaults_to_the_saliency_surrogate():
    game = FeatureGuidedGame(model="demo", image=0, extractor="grid")
    assert default_surrogate(game) == "saliency"
    assert isinstance(make_estimator("saliency", game, 0), SaliencyEstimator)
    assert surrogate_planner("saliency").value_source == "observed"  # policy priors, not acquisition values
    with pytest.raises(ParameterError, match="feature-guided game only"):
        make_estimator("saliency", DiceGame(), 0)


def test_sift_features_partition_the_image_and_keep_far_pixels_reachable():
    """Each keypoint owns the pixels its Gaussian is most responsible for (no pixel twice, at most
    ``pixels`` kept, likeliest first), including pixels far from it, under a floor of player II's prior."""
    from games.feature_guided.features import SALIENCY_FLOOR, sift_features

    images, _ = digits("test")
    for i in range(5):
        features = sift_features(images[i], count=6, pixels=Rules().pixels)
        assert features.kind == "sift"
        pixels = [p for f in features.features for p in f.pixels]
        assert len(pixels) == len(set(pixels)) > 16 * len(features.features)
        far = 0
        for f in features.features:
            assert len(f.pixels) <= Rules().pixels and math.isclose(sum(f.probabilities), 1.0)
            assert min(f.probabilities) >= SALIENCY_FLOOR / len(f.pixels) - 1e-12
            assert list(f.probabilities) == sorted(f.probabilities, reverse=True)
            rows, cols = np.divmod(np.asarray(f.pixels), 16)
            far += int(np.sum(np.hypot(rows - f.center[0], cols - f.center[1]) > 3 * f.sigma))
        assert far > 0  # beyond three widths of their keypoint: a mask would never reach them
