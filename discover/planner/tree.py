"""Search-tree nodes and the backup of their statistics.

Nodes are keyed by the game's state key, so two move orders that reach the same state share one
node (the tree is a DAG). Each node keeps visit statistics for selection and a backed-up value:
max over children for the searcher, min for the opponent, the probability-weighted mean for chance,
the evaluated value at a terminal. A node is *solved* when its value is exact: a terminal that has
been evaluated, or a node whose every move has been expanded into a solved child. Selection never
enters a solved node again, so every iteration spends its evaluation on something new.
"""

from __future__ import annotations

import math
from discover.types import Action, Player, Sampler, State


class Node:
    __slots__ = (
        "key", "state", "player", "depth", "children", "untried", "sampler", "chance", "priors", "priors_version",
        "visits", "value_sum", "value", "best", "worst", "frontier_best", "frontier_worst", "solved",
        "failed", "virtual", "counts", "scores", "acquisition", "feasibility",
    )

    def __init__(self, key: str, state: State, player: Player, depth: int) -> None:
        self.key = key
        self.state = state
        self.player = player
        self.depth = depth
        self.children: dict[Action, Node] = {}
        self.untried: list[Action] = []  # finite moves not yet expanded, most promising last
        self.sampler: Sampler | None = None  # continuous moves (progressive widening)
        self.chance: dict[Action, float] = {}  # chance moves and their probabilities
        self.priors: dict[Action, float] = {}
        self.priors_version = -1  # the estimator's version (of its priors) they came from
        self.visits = 0
        self.value_sum = 0.0
        self.value: float | None = None  # backed-up (minimax / expectimax) estimate
        self.best = -math.inf  # best and worst value seen below: for max-backup selection
        self.worst = math.inf
        self.frontier_best = -math.inf  # ... of the completions evaluated from this node itself
        self.frontier_worst = math.inf
        self.solved = False
        self.failed = False  # a terminal whose evaluation did not give a value
        self.virtual = 0  # evaluations in flight below (virtual loss)
        # why the search went where it did, kept for inspection: evaluations below by status, and per
        # move the last selection score and the surrogate's best acquisition and its P(ok)
        self.counts: dict[str, int] = {}
        self.scores: dict[Action, float] = {}
        self.acquisition: dict[Action, float] = {}
        self.feasibility: dict[Action, float] = {}

    @property
    def terminal(self) -> bool:
        return self.player is Player.TERMINAL

    @property
    def failed_only(self) -> bool:
        """Every evaluation below failed: the node's mean is the failure penalty, not a value."""
        return self.visits > 0 and not math.isfinite(self.best) and not math.isfinite(self.worst)

    @property
    def mean(self) -> float | None:
        return self.value_sum / self.visits if self.visits else None

    def fully_expanded(self) -> bool:
        if self.player is Player.CHANCE:
            return len(self.children) == len(self.chance)
        return self.sampler is None and not self.untried

    def record(self, value: float | None, penalty: float, frontier: bool) -> None:
        """Count one evaluation below this node (a failure counts as ``penalty``).

        ``frontier`` marks a completion evaluated from this node itself (it was the path's leaf).
        """
        self.visits += 1
        if value is None:
            self.value_sum += penalty
            return
        self.value_sum += value
        self.best = max(self.best, value)
        self.worst = min(self.worst, value)
        if frontier:
            self.frontier_best = max(self.frontier_best, value)
            self.frontier_worst = min(self.frontier_worst, value)

    def refresh(self, optimistic: bool) -> None:
        """Recompute the backed-up value and the solved flag from the children.

        Solved nodes get the exact minimax / expectimax value of their children. Until then the
        mover's best completion evaluated from the node itself also counts when ``optimistic``
        (max backup: in a single-player game that is a formulation the searcher can reach);
        otherwise a childless node is worth the mean of its completions.
        """
        if self.terminal:
            return
        self.solved = self.fully_expanded() and all(c.solved for c in self.children.values())
        # a child below which everything failed has no value: its penalty mean steers selection
        # away from it, but must not become the value of the game
        valued = {a: c for a, c in self.children.items() if c.value is not None and not c.failed_only}
        values = [c.value for c in valued.values()]
        if self.player is Player.CHANCE:
            weight = sum(self.chance[a] for a in valued)
            self.value = (sum(self.chance[a] * c.value for a, c in valued.items()) / weight) if weight else self.mean
            return
        own = self.frontier_best if self.player is Player.SEARCHER else self.frontier_worst
        if optimistic and not self.solved and math.isfinite(own):
            values.append(own)
        if not values:
            self.value = self.mean
        else:
            self.value = max(values) if self.player is Player.SEARCHER else min(values)
