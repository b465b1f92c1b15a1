"""The feature-guided game: black box, features, rules, certificates, loaders, the game and the API."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from discover.check import check_game
from discover.errors import ParameterError
from discover.types import EvalContext, Outcome, Player
from games.feature_guided import BlackBox, FeatureGuidedGame, Rules, certify, distance, extract, find_adversarial
from games.feature_guided.blackbox import placed
from games.feature_guided.certify import as_network, from_l2
from games.feature_guided.data import cifar10, digits, image_folders, mnist, read_idx, sample_image
from games.feature_guided.features import grid_features, sift_features
from games.feature_guided.models import demo_model
from games.feature_guided.pictures import panels, save_grid, save_panels
from games.feature_guided.rules import Tracker, manipulate

NORMS = ("l0", "l1", "l2", "linf")


@pytest.fixture(scope="module")
def test_digits():
    return digits("test")


@pytest.fixture(scope="module")
def cnn():
    return demo_model("demo-cnn")


def correctly_classified(model, images, labels, n):
    with torch.no_grad():
        predicted = model(torch.as_tensor(images)).argmax(1).numpy()
    return [i for i in range(len(images)) if predicted[i] == labels[i]][:n]


# -- the black box ---------------------------------------------------------------------------
class Probe(nn.Module):
    """Records whether gradients could be recorded during its forward passes."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.grad_modes: list[bool] = []

    def forward(self, x):
        self.grad_modes.append(torch.is_grad_enabled())
        return self.linear(x.flatten(1))


def test_black_box_counts_batches_and_never_records_gradients():
    probe = Probe().eval()  # in eval mode on the CPU already, so the box queries this very module
    box = BlackBox(probe, device="cpu", batch_size=3)
    images = torch.rand(7, 1, 2, 2, requires_grad=True)
    probs = box(images)
    assert isinstance(probs, np.ndarray) and probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-12)
    assert box.queries == 7 and box.calls == 3  # batches of 3, 3, 1
    assert probe.grad_modes == [False, False, False]
    assert all(p.grad is None for p in probe.parameters())
    assert images.grad is None


def test_black_box_never_changes_the_callers_model_and_queries_callables_on_the_cpu():
    """The caller (and certify) keep using their model where it was: a module that must move or leave
    training mode is copied; a callable's device cannot be seen, so ``auto`` gives it CPU inputs."""
    probe = Probe().train()
    box = BlackBox(probe, device="cpu")
    box(np.zeros((2, 1, 2, 2)))
    assert probe.training and box.device == "cpu"  # the caller's module is still in training mode
    assert probe.grad_modes == []  # the forward ran on a copy
    ready = Probe().eval()
    assert placed(ready, "cpu")[0] is ready  # on its device and in eval mode: used as it is
    assert placed(ready, "auto")[1] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert placed(lambda x: x, "auto")[1] == "cpu"
    assert placed(nn.Flatten(), None)[1] == "cpu"  # no parameters or buffers to move
    if torch.cuda.is_available():
        gpu_box = BlackBox(ready, device="cuda")
        assert gpu_box(np.zeros((2, 1, 2, 2))).shape == (2, 3)
        assert all(p.device.type == "cpu" for p in ready.parameters())


def test_black_box_accepts_probabilities_and_refuses_bad_outputs():
    probs = np.array([[0.2, 0.8], [0.5, 0.5]])
    box = BlackBox(lambda x: torch.as_tensor(probs[: len(x)]), device="cpu")
    np.testing.assert_allclose(box(np.zeros((2, 1, 2, 2))), probs)  # taken as probabilities, not soft-maxed
    cases = [
        (lambda x: torch.full((len(x), 3), float("nan")), "auto", "NaN"),
        (lambda x: torch.ones(len(x)), "auto", "outputs"),
        (lambda x: torch.tensor([[2.0, -1.0]] * len(x)), "probabilities", "not probabilities"),
    ]
    for model, outputs, words in cases:
        with pytest.raises(ParameterError, match=words) as info:
            BlackBox(model, device="cpu", outputs=outputs)(np.zeros((2, 1, 2, 2)))
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("image, words", [
    (np.zeros((2, 2, 2, 2)), "HW or CHW"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.full((4, 4), 1.5), r"\[0, 1\]"),
])
def test_bad_images_get_one_clear_line(cnn, image, words):
    with pytest.raises(ParameterError, match=words) as info:
        find_adversarial(cnn, image, budget=1)
    assert "\n" not in str(info.value)


def test_bad_rules_get_one_clear_line():
    for kwargs, words in (({"norm": "l3"}, "norm"), ({"tau": 0.0}, "tau"), ({"player2": "x"}, "player2"),
                          ({"rounds": 0}, "rounds"), ({"extractor": "hog"}, "extractor")):
        with pytest.raises(ParameterError, match=words):
            Rules(**kwargs)


# -- features --------------------------------------------------------------------------------
def test_sift_features_are_deterministic_and_fall_back_to_a_grid(test_digits):
    photo = sample_image("camera", 64)
    first, second = sift_features(photo, count=6, pixels=10), sift_features(photo.copy(), count=6, pixels=10)
    assert first == second and first.kind == "sift" and len(first.features) == 6
    assert all(len(f.pixels) == 10 and math.isclose(sum(f.probabilities), 1.0) for f in first.features)
    assert math.isclose(sum(f.weight for f in first.features), 1.0)
    saliency = first.saliency()
    assert saliency.shape == (64, 64) and math.isclose(saliency.sum(), 1.0)
    digit = sift_features(test_digits[0][0])  # a 16x16 digit: enlarged before SIFT
    assert digit.kind == "sift" and "(x8)" in digit.note
    blank = sift_features(np.zeros((1, 16, 16), dtype=np.float32))
    assert blank.kind == "grid" and "fallback" in blank.note


def test_saliency_partition_counts_its_queries(test_digits, cnn):
    images, labels = test_digits
    box = BlackBox(cnn, device="cpu")
    feats = extract("saliency", images[0], count=4, pixels=8, label=int(labels[0]), query=box, tau=1.0)
    assert feats.kind == "saliency" and feats.queries == 2 * 256 + 1 == box.queries
    pixels = [p for f in feats.features for p in f.pixels]
    assert len(pixels) == len(set(pixels)) == 32  # disjoint partitions of the most salient pixels


# -- rules -----------------------------------------------------------------------------------
def test_manipulations_stay_in_range_and_the_tracker_agrees_with_distance():
    rng = np.random.default_rng(0)
    original = rng.random((3, 5, 5)).astype(np.float32)
    for norm in NORMS:
        tracker, image = Tracker(original, original, norm, 0.7), original
        for _ in range(30):
            pixel, sign = int(rng.integers(25)), int(rng.choice([-1, 1]))
            image = manipulate(image, pixel, sign, 0.7)
            tracker.apply(pixel, sign)
            assert image.min() >= 0 and image.max() <= 1
            assert math.isclose(tracker.distance, distance(original, image, norm), rel_tol=1e-9, abs_tol=1e-12)


def test_norm_conversions_of_a_certified_l2_radius_are_sound():
    """Any perturbation with ||d||_2 >= r2 (entries in [-1, 1]) is at least from_l2(r2) in every norm."""
    rng = np.random.default_rng(1)
    shape = (3, 4, 4)
    for _ in range(200):
        d = rng.uniform(-1, 1, size=shape) * (rng.random(shape) < rng.random())
        if not d.any():
            continue
        r2 = float(np.sqrt((d * d).sum()))
        zero = np.zeros(shape)
        for norm in NORMS:
            assert distance(zero, d, norm) >= from_l2(r2, norm, shape)


# -- certificates ----------------------------------------------------------------------------
def test_unrolled_cnn_computes_the_model_and_unsupported_models_say_why(test_digits, cnn):
    images, _ = test_digits
    network = as_network(cnn, (1, 16, 16))
    with torch.no_grad():
        expected = cnn(torch.as_tensor(images[:4])).double().numpy()
        got = network.module()(torch.as_tensor(images[:4].reshape(4, -1), dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    pooled = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(98, 10))
    cert = certify(pooled, images[0], 0, "l2")
    assert cert.radius is None and "MaxPool2d" in cert.reason
    assert certify(lambda x: x, images[0], 0, "l2").radius is None


class Normalised(nn.Sequential):
    def forward(self, x):  # preprocessing inside forward: the layers alone are another function
        return super().forward((x - 0.5) / 0.01)


def test_models_whose_call_is_not_their_layers_get_no_certificate(test_digits):
    images, _ = test_digits
    layers = [nn.Flatten(), nn.Linear(256, 8), nn.ReLU(), nn.Linear(8, 10)]
    cert = certify(Normalised(*layers), images[0], 0, "l2")
    assert cert.radius is None and "Normalised" in cert.reason
    hooked = nn.Sequential(*layers)
    handle = hooked.register_forward_pre_hook(lambda module, args: ((args[0] - 0.5) / 0.01,))
    assert certify(hooked, images[0], 0, "l2").radius is None
    handle.remove()
    hooked[1].forward = lambda x: 100 * nn.functional.linear(x, hooked[1].weight, hooked[1].bias)
    assert "forward set on the instance" in certify(hooked, images[0], 0, "l2").reason
    linear = nn.Sequential(nn.Flatten(), nn.Linear(256, 10))  # no hidden layer: the spectral norm is the bound
    with torch.no_grad():
        label = int(linear(torch.as_tensor(images[:1])).argmax())
    assert certify(linear, images[0], label, "l2").method.startswith("naive (a linear map")


def test_a_certified_radius_contradicted_by_a_found_example_is_withdrawn(test_digits, cnn):
    images, labels = test_digits
    i = correctly_classified(cnn, images, labels, 1)[0]
    honest = find_adversarial(cnn, images[i], int(labels[i]), budget=100, extractor="grid", count=16)
    assert honest.found and honest.certified_radius <= honest.distance
    # a Lipschitz bound far too small (the caller's to give) makes the radius larger than a found example
    wrong = find_adversarial(cnn, images[i], int(labels[i]), budget=100, extractor="grid", count=16,
                             lipschitz=(1e-6, "a wrong bound"), exhaustive=64)
    assert wrong.found and wrong.certified_radius is None and "inside the certified radius" in wrong.certificate
    assert wrong.game_radius is None and not wrong.game_exact


def test_certified_radius_never_exceeds_the_found_distance(test_digits, cnn):
    images, labels = test_digits
    box = BlackBox(cnn, device="cpu")
    for i in correctly_classified(cnn, images, labels, 4):
        result = find_adversarial(cnn, images[i], int(labels[i]), budget=400, extractor="grid", count=16)
        assert result.found and result.confirmed
        assert 0 < result.certified_radius <= result.distance
        adversarial = result.adversarial.numpy()
        assert adversarial.shape == images[i].shape and adversarial.min() >= 0 and adversarial.max() <= 1
        assert int(np.argmax(box(adversarial[None])[0])) == result.adversarial_label != labels[i]
        assert math.isclose(distance(images[i], adversarial, "l2"), result.distance)


def test_find_adversarial_on_a_plain_callable_and_other_norms(test_digits, cnn):
    images, labels = test_digits
    i = correctly_classified(cnn, images, labels, 1)[0]
    calls = []

    def classify(x):  # a black box that is not a torch module: no certificate
        calls.append(len(x))
        return torch.softmax(cnn(x), dim=1)

    result = find_adversarial(classify, torch.as_tensor(images[i][0]), budget=400, norm="l0", max_queries=2000,
                              extractor="grid", count=16)
    assert result.adversarial.shape == (16, 16) and result.label == labels[i]
    assert result.certified_radius is None and "black box" in result.certificate
    assert result.queries == sum(calls) and result.queries < 2000 + 200 * 8
    assert result.found and result.distance == float(np.count_nonzero(result.adversarial.numpy() != images[i][0]))


@pytest.mark.parametrize("player2", ["adversarial", "random"])
def test_opponent_and_chance_player_two_run_on_the_planner(test_digits, cnn, player2):
    images, labels = test_digits
    i = correctly_classified(cnn, images, labels, 1)[0]
    result = find_adversarial(cnn, images[i], budget=60, player2=player2, extractor="grid", count=16)
    assert result.plays == 60 and result.queries > 60 and result.label == labels[i]
    if result.found:
        assert result.confirmed and result.certified_radius <= result.distance


# -- the game on the engine ------------------------------------------------------------------
def test_game_protocol_players_and_verification(tmp_path, test_digits, cnn):
    images, labels = test_digits
    i = correctly_classified(cnn, images, labels, 1)[0]
    game = FeatureGuidedGame(model="demo-cnn", image=i, extractor="grid", count=16, pictures=str(tmp_path))
    check_game(game, playouts=5)
    state = game.initial_state()
    assert game.to_move(state) is Player.SEARCHER
    state = game.apply(state, 0)
    assert game.to_move(state) is Player.SEARCHER  # cooperative player II
    for player2, kind in (("adversarial", Player.OPPONENT), ("random", Player.CHANCE)):
        other = FeatureGuidedGame(model="demo-cnn", image=i, player2=player2)
        assert other.to_move((0,)) is kind
    outcomes = FeatureGuidedGame(model="demo-cnn", image=i, player2="random").chance_outcomes((0,))
    assert math.isclose(sum(p for _, p in outcomes), 1.0)
    found = find_adversarial(cnn, images[i], int(labels[i]), budget=400, extractor="grid", count=16)
    terminal = found.play  # the API's best play, replayed by the game built from parameters
    outcome = game.evaluate(terminal, EvalContext())
    art = outcome.artifacts
    assert art["found"] and art["distance"] == found.distance
    assert outcome.value == -art["distance"] and art["bracket"][0] <= art["bracket"][1]
    assert game.verify(terminal, outcome) is None
    for forged in ({"label": (art["label"] + 1) % 10}, {"certified_radius": art["distance"] * 0.999},
                   {"certificate": "lipsdp"}, {"bracket": [art["distance"] * 0.999, art["distance"]]}):
        assert game.verify(terminal, Outcome.ok(outcome.value, dict(art, **forged))) is not None
    assert "not minus the distance" in game.verify(terminal, Outcome.ok(-1e-6, art))
    missed = next(s for s in (game.random_completion((), np.random.default_rng(k)) for k in range(100))
                  if not game.evaluate(s, EvalContext()).artifacts["found"])
    lost = game.evaluate(missed, EvalContext())
    assert game.verify(missed, lost) is None
    assert "above every failure" in game.verify(missed, Outcome.ok(-0.01, lost.artifacts))  # a forged near example
    assert cv2.imread(art["image_png"], cv2.IMREAD_UNCHANGED).shape == (16, 16)
    np.save(art["image_npy"], images[i])  # tampered: the original image is not adversarial
    assert "not the one the play produces" in game.verify(terminal, outcome)


def test_game_refuses_an_image_the_model_already_misclassifies(test_digits, cnn):
    images, labels = test_digits
    with torch.no_grad():
        wrong = int(np.flatnonzero(cnn(torch.as_tensor(images)).argmax(1).numpy() != labels)[0])
    with pytest.raises(ParameterError, match="already classifies"):
        FeatureGuidedGame(model="demo-cnn", image=wrong)
    result = find_adversarial(cnn, images[wrong], int(labels[wrong]), budget=5)
    assert result.distance == 0.0 and result.adversarial_label != labels[wrong]


# -- data and pictures -----------------------------------------------------------------------
def test_loaders_read_files_written_here(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8)
    header = b"\0\0\x08\x03" + b"".join(n.to_bytes(4, "big") for n in pixels.shape)
    (tmp_path / "images.idx").write_bytes(header + pixels.tobytes())
    with gzip.open(tmp_path / "labels.idx.gz", "wb") as f:
        f.write(b"\0\0\x08\x01" + (3).to_bytes(4, "big") + bytes([7, 1, 4]))
    x, y = mnist(tmp_path / "images.idx", tmp_path / "labels.idx.gz")
    assert x.shape == (3, 1, 5, 4) and list(y) == [7, 1, 4]
    np.testing.assert_allclose(x[:, 0] * 255, pixels, atol=1e-4)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ParameterError, match="magic"):
        read_idx(tmp_path / "bad.idx")

    records = rng.integers(0, 256, size=(2, 3073), dtype=np.uint8)
    records[:, 0] = [3, 9]
    records.tofile(tmp_path / "data_batch_1.bin")
    x, y = cifar10(tmp_path / "data_batch_1.bin")
    assert x.shape == (2, 3, 32, 32) and list(y) == [3, 9]
    assert math.isclose(x[1, 2, 31, 31] * 255, records[1, -1], abs_tol=1e-4)  # blue plane, last pixel
    (tmp_path / "short.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ParameterError, match="records"):
        cifar10(tmp_path / "short.bin")

    for label in (0, 12):
        (tmp_path / "gtsrb" / str(label)).mkdir(parents=True)
        image = np.zeros((10, 12, 3), dtype=np.uint8)
        image[..., 2] = 255  # red in OpenCV's BGR
        cv2.imwrite(str(tmp_path / "gtsrb" / str(label) / "00000_00000.ppm"), image)
    x, y = image_folders(tmp_path / "gtsrb", size=8)
    assert x.shape == (2, 3, 8, 8) and list(y) == [0, 12]
    assert np.allclose(x[:, 0], 1.0) and np.allclose(x[:, 1:], 0.0)  # RGB order
    with pytest.raises(ParameterError, match="class folders"):
        image_folders(tmp_path / "nowhere")


def test_pictures(tmp_path, test_digits):
    images, _ = test_digits
    changed = manipulate(images[0], 40, 1, 1.0)
    row = panels(images[0], changed, grid_features((16, 16), 4, 8).saliency())
    assert row.ndim == 3 and row.shape[2] == 3 and row.shape[0] >= 128
    save_panels(tmp_path / "one.png", images[0], changed)
    save_grid(tmp_path / "grid.png", [row, row])
    assert cv2.imread(str(tmp_path / "grid.png")).shape[0] > 2 * 128


# -- the LipSDP bound on the MLP (LipSDP takes ~10 s) ------------------------------------------
@pytest.mark.slow
def test_mlp_bracket_with_lipsdp(test_digits):
    images, labels = test_digits
    mlp = demo_model("demo")
    network = as_network(mlp, (1, 16, 16))
    from games.feature_guided.certify import lipschitz

    bound = lipschitz(network)
    assert bound[1] == "lipsdp"
    for i in correctly_classified(mlp, images, labels, 5):
        result = find_adversarial(mlp, images[i], int(labels[i]), budget=1000, lipschitz=bound, extractor="grid",
                                  count=16)
        assert result.found and result.confirmed
        assert 0 < result.certified_radius <= result.distance


def test_evaluate_batch_gives_the_outcomes_of_evaluating_each_state(tmp_path):
    """One batched call (its forward passes shared by all plays) against evaluate() state by state, each on
    a fresh game (nothing cached). Everything computed from the images (found, distances, moves, labels,
    query counts, stored images) is identical; probabilities and what derives from them (margin, value
    when nothing is found) come from float32 logits of a forward pass over 1 image or over many, whose
    matrix kernels sum in another order: a few float32 ulps (4e-6 at the demos' logits of up to ~55;
    1.5e-5 seen batched against single). A logit error d moves a softmax probability by at most d / 2
    and a margin by at most d, so they agree to 5e-5. The pictures' file names hash the game's
    parameters, its folder among them, so their contents are compared."""
    kwargs = {"model": "demo-cnn", "image": 2, "eta": 8.0}  # about half the random plays find an example
    one, batch = (FeatureGuidedGame(pictures=str(tmp_path / name), **kwargs) for name in ("one", "batch"))
    rng = np.random.default_rng(0)
    states = [one.random_completion(one.initial_state(), rng) for _ in range(8)]
    states.append(states[0][:11])  # a prefix of another play: its images are shared
    single = [one.evaluate(s, EvalContext()) for s in states]
    calls = batch.target.blackbox.calls
    batched = batch.evaluate_batch(states, EvalContext())
    assert 2 <= batch.target.blackbox.calls - calls <= 1 + math.ceil(math.log2(one.rounds))
    assert batch.target.blackbox.queries == one.target.blackbox.queries
    assert 0 < sum(o.artifacts["found"] for o in single) < len(states)
    assert FeatureGuidedGame.batch_limit > 1  # the dispatcher groups leaves only then
    approximate = ("probabilities", "margin")
    for state, a, b in zip(states, single, batched):
        assert b.status is a.status and math.isclose(b.value, a.value, rel_tol=0, abs_tol=5e-5)
        np.testing.assert_allclose(b.artifacts["probabilities"], a.artifacts["probabilities"], rtol=0, atol=5e-5)
        assert math.isclose(b.artifacts.get("margin", 0.0), a.artifacts.get("margin", 0.0), abs_tol=5e-5)
        exact = {k: v for k, v in a.artifacts.items() if k not in approximate and not k.startswith("image_")}
        assert {k: b.artifacts[k] for k in exact} == exact and b.artifacts.keys() == a.artifacts.keys()
        if a.artifacts["found"]:
            assert a.value == b.value
            np.testing.assert_array_equal(np.load(b.artifacts["image_npy"]), np.load(a.artifacts["image_npy"]))
            assert Path(b.artifacts["image_png"]).read_bytes() == Path(a.artifacts["image_png"]).read_bytes()
            assert batch.verify(state, b) is None
