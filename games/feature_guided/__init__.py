"""Feature-guided black-box safety testing: a two-player game for close adversarial examples, bracketed.

``find_adversarial(model, image)`` plays the game of [WHK18]/[WWRHK20] with the engine's planner and
returns the closest adversarial example found with a certified radius below it (and, on request,
the game's own exact lower bound from :mod:`.exhaustive`);
:class:`FeatureGuidedGame` is the same game for ``discover run feature-guided``. Baselines (PGD,
Square Attack, SimBA, random pixel search) are in :mod:`games.feature_guided.baselines`.

[WHK18] Wicker, Huang, Kwiatkowska, TACAS 2018 (arXiv 1710.07859).
[WWRHK20] Wu, Wicker, Ruan, Huang, Kwiatkowska, TCS 2020 (arXiv 1807.03571).
"""

from games.feature_guided.api import AttackResult, SaliencyEstimator, find_adversarial
from games.feature_guided.blackbox import BlackBox
from games.feature_guided.certify import Certificate, certify
from games.feature_guided.exhaustive import GameRadius, game_radius
from games.feature_guided.features import Feature, Features, extract
from games.feature_guided.game import FeatureGuidedGame, Target
from games.feature_guided.rules import Rules, distance

__all__ = ["AttackResult", "BlackBox", "Certificate", "Feature", "FeatureGuidedGame", "Features", "GameRadius", "Rules",
           "SaliencyEstimator", "Target", "certify", "distance", "extract", "find_adversarial", "game_radius"]
