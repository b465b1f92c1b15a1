"""``find_adversarial(model, image)``: the feature-guided game played by the engine's MCTS planner.

The planner proposes ``batch`` plays at a time (ask/tell); the images of all their manipulations
go to the black box in one query, so many leaves share one forward pass. Player I's and player II's
moves are expanded and rolled out by saliency ([WHK18]: the SIFT mixture picks features, the
Gaussian picks pixels), through :class:`SaliencyEstimator`. The best adversarial example found is
re-queried before it is returned, and the result brackets the minimal adversarial distance
between the certified radius (when the model is a network :mod:`.certify` handles) and the
distance found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from discover.errors import ParameterError
from discover.game import pick_index
from discover.planner import Planner, PlannerConfig
from games.feature_guided.blackbox import BlackBox, as_chw
from games.feature_guided.exhaustive import game_radius
from games.feature_guided.game import FeatureGuidedGame, Steps, Target
from games.feature_guided.rules import DEFAULT_PIXELS, Rules, Tracker

# Player II has up to 2 x pixels moves: widened progressively (k(N) = N^0.5 children, drawn by saliency without
# replacement) so the tree deepens along promising manipulations instead of trying every one once per node.
PLANNER = PlannerConfig(rule="puct", exploration=1.0, backup="max", wide_threshold=4)


class SaliencyEstimator:
    """Priors and rollouts from the saliency distribution: player I by feature weight, player II by the
    pixel's weight in the feature and the side prior (the game's own chance probabilities); continuous
    steps drawn by the same weights, their size uniform."""

    version = 0

    def priors(self, game: FeatureGuidedGame, state: tuple, actions: Sequence,
               history: Sequence) -> Sequence[float] | None:
        if len(state) % 2 == 0:
            weights = [f.weight for f in game.target.features.features]
            return [weights[a] for a in actions]
        steps = game.actions(state)
        if isinstance(steps, Steps):
            return steps.priors(actions)
        probs = dict(game.chance_outcomes(state))
        return [probs[a] for a in actions]

    def widen(self, game: FeatureGuidedGame, state: tuple, moves, rng: np.random.Generator,
              pending: Sequence[tuple], history: Sequence):
        """A new continuous step at player II's node, drawn by saliency (or a wide finite move by it)."""
        if isinstance(moves, Steps):
            return moves.sample(rng)
        return moves[pick_index(self.priors(game, state, moves, history), rng.random())]

    def complete(self, game: FeatureGuidedGame, state: tuple, rng: np.random.Generator,
                 pending: Sequence[tuple], history: Sequence) -> tuple:
        """A rollout by saliency on a :class:`Tracker` (the tree's image cache holds only tree states)."""
        t = game.target
        weights = [f.weight for f in t.features.features]
        tracker = Tracker(t.image, t.current(state), t.rules.norm, t.rules.tau)
        grey = tracker.grey
        moves = list(state)
        while True:
            if len(moves) % 2 == 0:
                if t.finished(len(moves) // 2, tracker.distance):
                    return tuple(moves)
                moves.append(pick_index(weights, rng.random()))
            else:
                options, p = t.manipulation_weights(moves[-1], grey)
                move = options[pick_index(p, rng.random())]
                if t.rules.magnitude == "continuous":
                    move = (move[0], move[1] * float(1.0 - rng.random()))
                tracker.apply(*move)
                moves.append(move)

    def observe(self, game, state, outcome) -> None:
        return None


def saliency_surrogate(game, seed: int = 0) -> SaliencyEstimator:
    """The ``saliency`` surrogate of ``discover run``: for the feature-guided game only."""
    if not isinstance(game, FeatureGuidedGame):
        raise ParameterError(f"the saliency surrogate guides the feature-guided game only, not {game.name!r}: "
                             "use --surrogate gp or none")
    return SaliencyEstimator()


saliency_surrogate.planner = PLANNER  # what campaigns guided by it use (discover.methods.surrogate_planner)


@dataclass(frozen=True)
class AttackResult:
    """What one attack found. ``adversarial`` is shaped like the input image (the image itself when nothing
    was found, then ``distance`` is None); ``confirmed``: the returned image, re-queried alone, is
    misclassified (``found`` needs it: a black box whose answers depend on the batch can differ).

    ``certified_radius`` (in ``norm``; None with ``certificate`` saying why): no adversarial example of
    the network *in exact arithmetic* lies closer (:mod:`.certify`). The black box computes in floating
    point, whose rounding can flip an image within ~1e-7 relative of a tie; such a flip inside the
    radius is not excluded. When the search confirms an adversarial image inside the radius, the
    radius is withdrawn (None) and ``certificate`` says so. ``game_radius``/``game_exact``: the same
    scope, for the answers of the black box as queried (in batches, :mod:`.exhaustive`)."""

    adversarial: torch.Tensor
    label: int
    adversarial_label: int | None
    distance: float | None
    norm: str
    queries: int
    certified_radius: float | None
    certificate: str
    seconds: float
    plays: int
    confirmed: bool
    play: tuple = ()  # the moves of the play that found ``adversarial`` (empty when the exhaustive search did)
    game_radius: float | None = None  # no image the game can make lies closer (exact when game_exact)
    game_exact: bool = False
    game_note: str = "not searched (exhaustive=0)"
    game_queries: int = 0  # of ``queries``, those the exhaustive search spent

    @property
    def found(self) -> bool:
        return self.distance is not None and self.confirmed

    @property
    def bracket(self) -> tuple[float | None, float | None]:
        """[certified radius, distance found]: the minimal adversarial distance lies in between."""
        return self.certified_radius, self.distance if self.found else None

    @property
    def game_bracket(self) -> tuple[float | None, float | None]:
        """[lower bound, distance found] for the closest adversarial image the *game* can make (pixels of
        the features, steps of tau): the certified radius bounds it too, so the larger bound is given."""
        lows = [b for b in (self.certified_radius, self.game_radius) if b is not None]
        return (max(lows) if lows else None), self.distance if self.found else None


def find_adversarial(model: Callable | torch.nn.Module, image: torch.Tensor | np.ndarray, label: int | None = None,
                     *, norm: str = "l2", budget: int = 400, player2: str = "cooperative", tau: float = 1.0,
                     eta: float | None = None, rounds: int = 40, extractor: str = "sift", count: int = 6,
                     pixels: int = DEFAULT_PIXELS, seed: int = 0, batch: int = 16, max_queries: int | None = None,
                     device: str | None = None, certify: bool = True,
                     lipschitz: tuple[float, str] | None = None, magnitude: str = "discrete",
                     exhaustive: int = 0) -> AttackResult:
    """Search for the closest adversarial example of ``image`` (HW or CHW in [0, 1]) for ``model`` (a torch
    classifier or a callable from (N, C, H, W) images to probabilities or logits), playing up to ``budget``
    plays (and at most about ``max_queries`` black-box queries). ``label``: the true class (default: the
    model's). ``lipschitz``: a certified l2 bound already computed for the model, and its method.
    ``exhaustive``: queries for the game's own lower bound afterwards (:mod:`.exhaustive`; 0: none).
    The image is taken as float32, what the black box sees: distances and the certificate are the
    rounded image's."""
    start = time.perf_counter()
    rules = Rules(norm, player2, tau, eta, rounds, extractor, count, pixels, magnitude)
    if isinstance(exhaustive, bool) or not isinstance(exhaustive, int) or exhaustive < 0:
        raise ParameterError(f"exhaustive must be a number of queries >= 0, got {exhaustive!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ParameterError(f"budget must be a positive number of plays, got {budget!r}")
    chw = as_chw(image)
    blackbox = model if isinstance(model, BlackBox) else BlackBox(model, device=device)
    base = blackbox(chw[None])[0]
    label = int(np.argmax(base)) if label is None else int(label)
    if not 0 <= label < len(base):
        raise ParameterError(f"label must be a class in 0..{len(base) - 1}, got {label}")
    shaped = lambda a: torch.as_tensor(a).reshape(tuple(image.shape))  # noqa: E731
    if int(np.argmax(base)) != label:  # already misclassified: distance 0
        return AttackResult(shaped(chw), label, int(np.argmax(base)), 0.0, norm, blackbox.queries, 0.0,
                            "the image is already misclassified", time.perf_counter() - start, 0, True)
    target = Target(blackbox, chw, label, rules, model if certify and isinstance(model, torch.nn.Module) else None)
    target.lipschitz = lipschitz
    game = FeatureGuidedGame.on(target)
    planner = Planner(game, estimator=SaliencyEstimator(), config=PLANNER, seed=seed)
    best, best_value, best_play, plays = None, -np.inf, (), 0
    while plays < budget and (max_queries is None or blackbox.queries < max_queries):
        proposals = planner.ask(min(batch, budget - plays))
        if not proposals:
            break
        for proposal, result in zip(proposals, target.plays([p.state for p in proposals])):
            outcome = game.outcome(proposal.state, result, time.perf_counter() - start)
            planner.tell(proposal, outcome)
            plays += 1
            if outcome.value > best_value:
                best_value, best, best_play = outcome.value, result, proposal.state
    cert = target.certificate if target.model is not None else None
    radius = cert.radius if cert else None
    reason = cert.text if cert else "no certificate: the model is a black box (or certify=False)"
    game = {}
    if exhaustive:
        pixels_of_game = [p for f in target.features.features for p in f.pixels]
        searched = game_radius(blackbox, chw, label, pixels_of_game, rules, exhaustive, certified=radius)
        game = {"game_radius": searched.radius, "game_exact": searched.exact, "game_note": searched.reason,
                "game_queries": searched.queries}
        if searched.image is not None and (best is None or not best["found"] or searched.radius < best["distance"]):
            best, best_play = {"found": True, "image": searched.image, "distance": searched.radius}, ()
    if best is None or not best["found"]:
        return AttackResult(shaped(chw), label, None, None, norm, blackbox.queries, radius, reason,
                            time.perf_counter() - start, plays, False, **game)
    requery = int(np.argmax(blackbox(best["image"][None])[0]))
    if requery != label and radius is not None and best["distance"] < radius:  # the certificate is contradicted
        reason = (f"no certificate: an adversarial image at {best['distance']:.6g} lies inside the certified radius "
                  f"{radius:.6g}; the model does not compute what its layers say, or its rounding flips a near tie")
        radius = None
        if game:
            game.update(game_radius=None, game_exact=False, game_note="withdrawn: it relied on the certified radius")
    return AttackResult(shaped(best["image"]), label, requery, best["distance"], norm, blackbox.queries, radius,
                        reason, time.perf_counter() - start, plays, requery != label, best_play, **game)
