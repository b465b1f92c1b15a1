"""The feature-guided game on the engine: player I picks a feature, player II a pixel in it and a step.

[WHK18]'s two-player turn-based game with [WWRHK20]'s atomic manipulations. Player I (the searcher)
picks one of the image's features; player II picks one of that feature's pixels and a step, and the
pixel moves by +-tau (``magnitude=discrete``) or by any amount up to tau chosen by player II
(``continuous``: a continuous move, widened progressively by the planner). Player II is cooperative
(the searcher again: DeepGame's maximum-safe-radius game), adversarial (the engine's OPPONENT, who
wants no adversarial example, or a far one: a feature-robustness game) or random (CHANCE, pixels drawn by the feature's saliency, as in [WHK18]).
A play ends after ``rounds`` manipulations or when the distance budget ``eta`` is spent; its
evaluation finds, by bisection over its images within the budget, an image that is misclassified
right after one that is not, and the play counts as ending there ([WWRHK20]: the game ends on
misclassification); it is the first misclassified image when the class flips once along the play,
some flip otherwise (:meth:`Target.plays`). Value: minus that image's distance, or, when none is misclassified,
-(eta + 1 + margin) with margin = P(true class) - max P(other) at the last image, so every adversarial
example is worth more than every failure and failures closer to the boundary are worth more.

State: the tuple of moves so far (ints for player I, (pixel, step) for player II, step +-1 or in
[-1, 1]).
References: see :mod:`games.feature_guided.features`.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from discover.errors import ParameterError
from discover.game import Game, Param, pick_index
from discover.types import EvalContext, Objective, Outcome, Player, Resources
from games.feature_guided.blackbox import BlackBox, as_chw, torch_device
from games.feature_guided.certify import Certificate, certify
from games.feature_guided.data import digits
from games.feature_guided.features import Features, extract
from games.feature_guided.models import load_model
from games.feature_guided.pictures import save_image
from games.feature_guided.rules import DEFAULT_PIXELS, MAGNITUDES, NORMS, PLAYER2, Rules, distance, manipulate

IMAGE_CACHE_BYTES = 64 * 2**20  # images kept for the tree's states (least recently used dropped first)
SIGN_FLOOR = 0.1  # prior of a manipulation towards the nearer end of [0, 1], relative to the room it has
MARGIN_SLACK = 1e-4  # how far a failed play's stored value may sit from its replay's (batched forward passes differ by ~1e-5)
PLAYER2_KIND = {"cooperative": Player.SEARCHER, "adversarial": Player.OPPONENT, "random": Player.CHANCE}


class Target:
    """One attack: the image (CHW in [0, 1]), its true label, the black box, the features and the rules.

    It caches the black box's answer for every sequence of manipulations already queried, so a
    prefix shared by many plays is paid for once (``blackbox.queries`` counts only real queries).
    """

    def __init__(self, blackbox: BlackBox, image: np.ndarray, label: int, rules: Rules, model: object = None) -> None:
        self.blackbox, self.image, self.label, self.rules, self.model = blackbox, image, label, rules, model
        self.features: Features = extract(rules.extractor, image, count=rules.count, pixels=rules.pixels,
                                          label=label, query=blackbox, tau=rules.tau)
        self._probs: dict[tuple, np.ndarray] = {}
        self._images: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict({(): (image, 0.0)})
        self._room = max(1024, IMAGE_CACHE_BYTES // max(image.nbytes, 1))
        self.lipschitz: tuple[float, str] | None = None  # set by a caller that already has the bound
        predicted = int(np.argmax(self.probabilities([()])[0]))
        if predicted != label:
            raise ParameterError(f"the model already classifies the image as {predicted}, not {label}: "
                                 "nothing to attack")

    def manipulations(self, state: tuple) -> tuple:
        return tuple(state[1::2])

    def current(self, state: tuple) -> np.ndarray:
        return self._image(self.manipulations(state))[0]

    def distance(self, state: tuple) -> float:
        return self._image(self.manipulations(state))[1]

    def _image(self, manipulations: tuple) -> tuple[np.ndarray, float]:
        """The image after ``manipulations`` and its distance, built on the cached image of the prefix
        (rollouts ask for every prefix in turn, so each costs one manipulation)."""
        known = self._images.get(manipulations)
        if known is None:
            before = self._image(manipulations[:-1])[0]
            image = manipulate(before, *manipulations[-1], self.rules.tau)
            known = self._images[manipulations] = (image, distance(self.image, image, self.rules.norm))
            if len(self._images) > self._room:
                self._images.popitem(last=False)
                self._images[()] = (self.image, 0.0)  # the root stays
        else:
            self._images.move_to_end(manipulations)
        return known

    def finished(self, rounds: int, dist: float) -> bool:
        """A play ends after ``rules.rounds`` manipulations or once the budget eta is spent."""
        return rounds >= self.rules.rounds or dist >= self.rules.eta

    def manipulation_weights(self, feature: int, grey: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Player II's moves in ``feature`` that change the image (``grey``: its channel mean, flat), and
        their probabilities: the pixel's saliency in the feature times a sign prior leaning to the side
        with more room (at least ``SIGN_FLOOR``)."""
        f = self.features.features[feature]
        moves, weights = [], []
        for pixel, p in zip(f.pixels, f.probabilities):
            for sign, room in ((1, 1.0 - grey[pixel]), (-1, grey[pixel])):
                if room > 0:
                    moves.append((pixel, sign))
                    weights.append(p * max(room, SIGN_FLOOR))
        if not moves:
            raise ParameterError("no manipulation changes this feature")
        w = np.asarray(weights)
        return moves, w / w.sum()

    def probabilities(self, keys: list[tuple]) -> list[np.ndarray]:
        """P(class | image after each sequence of manipulations): one batched query for the unseen ones."""
        new = list(dict.fromkeys(k for k in keys if k not in self._probs))
        if new:
            for k, p in zip(new, self.blackbox(np.stack([self._image(k)[0] for k in new]))):
                self._probs[k] = p
        return [self._probs[k] for k in keys]

    def plays(self, states: list[tuple]) -> list[dict]:
        """Where finished plays end, found by batched bisection over each play's images.

        A play's images are its manipulation prefixes within the budget eta. The last of them is
        queried; if it is still correctly classified the play failed (margin read there). Otherwise
        the boundary between the correctly classified original (prefix 0) and it is bisected, so the
        play ends at a prefix k that is misclassified right after prefix k - 1 was not: the first
        misclassification when the class flips once along the path, some flip in any case, at
        1 + ceil(log2 k) queries instead of k. All plays' bisection steps share each query.

        Each result's ``queries`` is the black box's count once that play is classified, the plays
        taken in order: what evaluating them one at a time would have shown (a batch spends the same
        queries, a prefix shared by several plays counted for the first that needs it).
        """
        results: list[dict | None] = [None] * len(states)
        asked: list[list[tuple]] = [[] for _ in states]  # the prefixes each play's classification needs
        fresh: set[tuple] = set()  # those of them not cached before this call

        def ask(owners: list[int], keys: list[tuple]) -> list[np.ndarray]:
            for i, k in zip(owners, keys):
                asked[i].append(k)
                if k not in self._probs:
                    fresh.add(k)
            return self.probabilities(keys)

        before = self.blackbox.queries
        work = []
        for i, state in enumerate(states):
            m = self.manipulations(state)
            k = len(m)
            while k > 0 and self._image(m[:k])[1] > self.rules.eta:
                k -= 1
            work.append((i, m, k))
        last = ask([i for i, _, _ in work], [m[:k] for _, m, k in work])
        active = []
        for (i, m, k), p in zip(work, last):
            if k > 0 and int(np.argmax(p)) != self.label:
                active.append([i, m, 0, k])  # prefix lo is classified correctly, prefix hi is not
            else:
                margin = float(p[self.label] - np.max(np.delete(p, self.label)))
                results[i] = {"found": False, "image": self._image(m[:k])[0], "probabilities": p,
                              "margin": margin, "moves": k}
        while active:
            probes = [(entry, (entry[2] + entry[3]) // 2) for entry in active if entry[3] - entry[2] > 1]
            for (entry, mid), p in zip(probes, ask([e[0] for e, _ in probes], [e[1][:mid] for e, mid in probes])):
                if int(np.argmax(p)) != self.label:
                    entry[3] = mid
                else:
                    entry[2] = mid
            for i, m, lo, hi in [e for e in active if e[3] - e[2] == 1]:
                image, d = self._image(m[:hi])
                results[i] = {"found": True, "image": image, "probabilities": self._probs[m[:hi]], "distance": d,
                              "moves": hi}
            active = [e for e in active if e[3] - e[2] > 1]
        counted: set[tuple] = set()
        for result, keys in zip(results, asked):
            counted.update(k for k in keys if k in fresh)
            result["queries"] = before + len(counted)  # type: ignore[index]
        return results  # type: ignore[return-value]

    def play(self, state: tuple) -> dict:
        return self.plays([state])[0]

    def value(self, result: dict) -> float:
        return -result["distance"] if result["found"] else -(self.rules.eta + 1.0 + result["margin"])

    @cached_property
    def certificate(self) -> Certificate:
        if self.model is None:
            return Certificate(None, self.rules.norm, reason="no certificate: the model is a black box only")
        return certify(self.model, self.image, self.label, self.rules.norm, self.lipschitz)


@dataclass(frozen=True)
class Steps:
    """Player II's continuous moves in one feature: a pixel and side drawn by their weights (as the
    discrete game's), then a step of uniform size in (0, 1] towards that side."""

    moves: tuple[tuple[int, int], ...]
    probabilities: tuple[float, ...]

    def sample(self, rng: np.random.Generator) -> tuple[int, float]:
        pixel, sign = self.moves[pick_index(self.probabilities, rng.random())]
        return pixel, sign * float(1.0 - rng.random())  # 1 - U[0, 1) lies in (0, 1]

    def priors(self, steps: Sequence[tuple[int, float]]) -> list[float]:
        """The weight of each step's pixel and side (its size is uniform)."""
        weight = dict(zip(self.moves, self.probabilities))
        return [weight.get((pixel, 1 if step > 0 else -1), 0.0) for pixel, step in steps]


class FeatureGuidedGame(Game):
    """Find a close adversarial example of one image by the feature-guided two-player game."""

    name = "feature-guided"
    # minus the adversarial distance found (past the budget: minus budget + 1 + the label's margin)
    quantity = Objective("distance (eta + 1 + margin when none found)", "min")
    # A batch of plays costs at most 1 + ceil(log2 rounds) forward passes (7 for 40 rounds), each of at
    # most one image per play: at 64 plays that is ~0.1 pass per play, and the rest of an evaluation
    # (building each play's images, in Python) dominates, so larger batches gain little
    # (benchmarks/batched_eval.py) while the planner picks more leaves without each other's values.
    batch_limit = 64
    params = (
        Param("model", "path", "demo", "demo (MLP), demo-cnn, or a torch.save file of a module taking (N, C, H, W)"),
        Param("image", "int", 0, "index into the 500 digits test images (16x16)"),
        Param("norm", "str", "l2", "distance: l0, l1, l2 or linf", choices=NORMS),
        Param("player2", "str", "cooperative", "player II: cooperative, adversarial or random", choices=PLAYER2),
        Param("tau", "float", 1.0, "size of one manipulation, in (0, 1]"),
        Param("eta", "float", 0.0, "distance budget (0: 32, 16, 4, 1 for l0, l1, l2, linf)"),
        Param("rounds", "int", 40, "most manipulations in one play"),
        Param("extractor", "str", "sift", "features from sift (black-box), saliency (grey-box) or grid",
              choices=("sift", "saliency", "grid")),
        Param("count", "int", 6, "features per image"),
        Param("pixels", "int", DEFAULT_PIXELS, "pixels per feature that player II may choose"),
        Param("pictures", "path", "", "folder for adversarial images (default: a folder in the temp dir)"),
        Param("magnitude", "str", "discrete", "player II's step: +-tau (discrete) or any size up to tau (continuous)",
              choices=MAGNITUDES),
        Param("device", "str", "auto", "where the model runs: auto (CUDA when available), cpu, cuda or cuda:N"),
    )
    surrogate = "saliency"  # priors and rollouts from the image's saliency ([WHK18]), unless one is named

    def __init__(self, model: str = "demo", image: int = 0, norm: str = "l2", player2: str = "cooperative",
                 tau: float = 1.0, eta: float = 0.0, rounds: int = 40, extractor: str = "sift", count: int = 6,
                 pixels: int = DEFAULT_PIXELS, pictures: str = "", magnitude: str = "discrete",
                 device: str = "auto") -> None:
        self.model, self.image, self.norm, self.player2, self.tau, self.eta = model, image, norm, player2, tau, eta
        self.rounds, self.extractor, self.count, self.pixels, self.pictures = rounds, extractor, count, pixels, pictures
        self.magnitude, self.device = magnitude, device
        rules = Rules(norm, player2, tau, eta or None, rounds, extractor, count, pixels, magnitude)
        images, labels = digits("test")
        if not 0 <= image < len(images):
            raise ParameterError(f"image must be an index in 0..{len(images) - 1}, got {image}")
        network = load_model(model)
        self.target = Target(BlackBox(network, device=torch_device(device)), images[image], int(labels[image]), rules,
                             network)
        self.folder = Path(pictures) if pictures else Path(tempfile.gettempdir()) / "discover-feature-guided"

    @classmethod
    def on(cls, target: Target, folder: Path | None = None) -> FeatureGuidedGame:
        """The game on a target built by the Python API (any black box; not re-creatable from parameters)."""
        game = cls.__new__(cls)
        r = target.rules
        game.model, game.image, game.norm, game.player2 = "<api>", -1, r.norm, r.player2
        game.tau, game.eta = r.tau, r.eta
        game.rounds, game.extractor, game.count, game.pixels = r.rounds, r.extractor, r.count, r.pixels
        game.magnitude, game.device = r.magnitude, target.blackbox.device
        game.pictures, game.target, game.folder = str(folder or ""), target, folder
        return game

    def __reduce__(self) -> tuple:
        if self.image < 0:
            raise TypeError("a feature-guided game built by the Python API cannot be sent to worker processes")
        return (type(self), tuple(self.parameters().values()))

    # -- rules ---------------------------------------------------------------------------------
    def initial_state(self) -> tuple:
        return ()

    def to_move(self, state: tuple) -> Player:
        t = self.target
        if len(state) % 2:
            return PLAYER2_KIND[t.rules.player2]
        if t.finished(len(state) // 2, t.distance(state)):
            return Player.TERMINAL
        return Player.SEARCHER

    def actions(self, state: tuple):
        if len(state) % 2 == 0:
            return tuple(range(len(self.target.features.features)))
        moves = self._player2_moves(state)
        if self.target.rules.magnitude == "continuous":
            return Steps(tuple(m for m, _ in moves), tuple(p for _, p in moves))
        return tuple(move for move, _ in moves)

    def chance_outcomes(self, state: tuple):
        return self._player2_moves(state)

    def _player2_moves(self, state: tuple) -> list[tuple[tuple[int, int], float]]:
        moves, probs = self.target.manipulation_weights(state[-1], self.target.current(state).mean(axis=0).ravel())
        return list(zip(moves, probs.tolist()))

    def apply(self, state: tuple, action) -> tuple:
        return (*state, action)

    def resources(self, state: tuple) -> Resources:
        """One GPU for the model's forward passes when it runs on CUDA."""
        return Resources(gpus=1 if str(self.target.blackbox.device).startswith("cuda") else 0)

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        return self.outcome(state, self.target.play(state), time.perf_counter() - start)

    def evaluate_batch(self, states: Sequence[tuple], context: EvalContext) -> list[Outcome]:
        """What :meth:`evaluate` gives on each state in turn (values, probabilities and margins to the
        rounding of a forward pass over many images instead of one; all else, query counts included,
        identical), from :meth:`Target.plays` on all of them: every play's last image goes to the black
        box in one forward pass, then each bisection step of all plays still undecided in one more (at
        most 1 + ceil(log2 rounds) passes for the batch, instead of that many per state). The bisection
        needs the classifier's answer before it knows its next image, so querying every prefix up front
        would be one pass but up to ``rounds`` times the queries. Each outcome's cost is its share of
        the batch's time."""
        start = time.perf_counter()
        results = self.target.plays(list(states))
        share = (time.perf_counter() - start) / max(len(states), 1)
        return [self.outcome(state, result, share) for state, result in zip(states, results)]

    def outcome(self, state: tuple, result: dict, seconds: float) -> Outcome:
        return Outcome.ok(self.target.value(result), self.artifacts(state, result), seconds)

    def artifacts(self, state: tuple, result: dict) -> dict:
        t, cert = self.target, self.target.certificate
        art = {"found": result["found"], "label": t.label,
               "adversarial_label": int(np.argmax(result["probabilities"])),
               "probabilities": [float(p) for p in result["probabilities"]], "norm": t.rules.norm,
               "manipulations": result["moves"], "queries": result["queries"],
               "certified_radius": cert.radius, "certificate": cert.text}
        if result["found"]:
            art["distance"] = result["distance"]
            art["bracket"] = [cert.radius, result["distance"]]
            if self.folder is not None:
                stem = self.folder / f"{hashlib.sha1(repr((self.parameters(), state)).encode()).hexdigest()[:16]}"
                stem.parent.mkdir(parents=True, exist_ok=True)
                np.save(stem.with_suffix(".npy"), result["image"])
                save_image(stem.with_suffix(".png"), result["image"])
                art["image_npy"], art["image_png"] = str(stem.with_suffix(".npy")), str(stem.with_suffix(".png"))
        else:
            art["margin"] = result["margin"]
        return art

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Replay the play and re-derive every stored claim: found or not, the true label, the
        certificate, the value, and for an adversarial example its image (the stored .npy where one is
        kept), its class re-queried and its distance. A failed play's value carries the black box's
        margin, which moves by ~1e-5 with the batch it was queried in (:meth:`evaluate_batch`): it
        must lie below every adversarial example's value and within ``MARGIN_SLACK`` of the replay's."""
        art, t = outcome.artifacts, self.target
        replay = t.play(state)
        if bool(art.get("found")) != replay["found"]:
            return (f"the stored play {'found' if art.get('found') else 'found no'} adversarial image; replayed, it "
                    f"{'finds one' if replay['found'] else 'finds none'}")
        cert = t.certificate
        if art.get("label") != t.label:
            return f"the stored true label {art.get('label')} is not the image's {t.label}"
        if art.get("certified_radius") != cert.radius or art.get("certificate") != cert.text:
            return (f"the stored certificate ({art.get('certified_radius')}, {art.get('certificate')!r}) is not the "
                    f"model's ({cert.radius}, {cert.text!r})")
        if not replay["found"]:
            if not outcome.value <= -(t.rules.eta + 1.0):
                return f"a play that found nothing claims value {outcome.value}, above every failure's -(eta + 1)"
            if not abs(outcome.value - t.value(replay)) <= MARGIN_SLACK:
                return f"the stored value {outcome.value} is not the replayed play's {t.value(replay)}"
            return None
        image = replay["image"]
        path = art.get("image_npy")
        if path is not None:
            try:
                stored = as_chw(np.load(path))
            except (OSError, ValueError, ParameterError) as exc:
                return f"the stored adversarial image cannot be read: {exc}"
            if not np.array_equal(stored, image):
                return "the stored image is not the one the play produces"
        elif self.folder is not None:
            return "the outcome stores no adversarial image"
        label = int(np.argmax(t.blackbox(image[None])[0]))
        if label == t.label or label != art.get("adversarial_label"):
            return (f"re-queried, the play's image is classified {label} (true {t.label}, "
                    f"stored {art.get('adversarial_label')})")
        d = distance(t.image, image, t.rules.norm)
        if not np.isclose(d, art.get("distance", np.nan), rtol=1e-12, atol=0):
            return f"the play's image is at distance {d}, not the stored {art.get('distance')}"
        if outcome.value != -art["distance"] or art.get("bracket") != [cert.radius, art["distance"]]:
            return f"the stored value {outcome.value} or bracket {art.get('bracket')} is not minus the distance found"
        if cert.radius is not None and cert.radius > d:
            return f"the certified radius {cert.radius} exceeds a found adversarial distance {d}: a bug"
        return None

    def describe_state(self, state: tuple) -> str:
        pixels = sorted({m[0] for m in state[1::2]})
        return (f"{len(state) // 2} manipulation(s) of {len(pixels)} pixel(s), features "
                f"{sorted(set(state[0::2]))}, whole play at distance {self.target.distance(state):.4g} "
                f"({self.target.rules.norm})")

    def describe_action(self, action) -> str:
        if isinstance(action, tuple):
            return f"pixel {action[0]} {action[1] * self.target.rules.tau:+.4g}"
        return f"feature {action}"
