"""The MCTS planner as ask/tell: ``ask(q)`` picks q distinct formulations to evaluate, ``tell``
backs a finished evaluation up the tree.

One iteration: descend from the root by the selection rule (searcher maximises, opponent
minimises, chance samples by probability), expand one new move at the first node that may grow
(every untried move first for UCT; by prior for PUCT; progressive widening for continuous or very
wide move sets, whose new finite moves are drawn by prior without replacement; under guided
selection the estimator picks continuous and very wide moves, and every move while it places
its initial design), then let the estimator choose a complete formulation below the new leaf. That
formulation is evaluated unless it already was (then its stored value is backed up for free) or
is in flight. Virtual loss along the paths of in-flight evaluations makes a batch spread out.

[PW] Coulom, "Computing Elo ratings of move patterns in the game of Go", 2007; Couetoux et al.,
     "Continuous upper confidence trees", LION 2011 (progressive widening: k(N) = C N^alpha).

Invariant: a state key is in flight at most once (``pending``), so every ``tell`` and ``forget``
matches exactly one ``ask``, whatever order k workers finish in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from discover.errors import GameError
from discover.game import Game, sample_chance
from discover.planner.estimator import Estimator, Priors, RolloutEstimator
from discover.planner.selection import RULES
from discover.planner.tree import Node
from discover.types import (
    Action, EdgeRecord, EvaluationRecord, NodeRecord, Outcome, Player, PlannerConfig, State, Status,
    is_sampler,
)


@dataclass(frozen=True)
class Proposal:
    """A terminal state the planner wants evaluated, and the tree path it was reached by."""

    id: int
    state: State
    key: str
    path: tuple[str, ...]  # node keys from the root
    actions: tuple[Action, ...]  # the move into each node of ``path`` after the root


class Planner:
    """Monte Carlo tree search over a :class:`~discover.game.Game`, driven by ask/tell."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None,
                 config: PlannerConfig | None = None, seed: int = 0) -> None:
        self.game = game
        self.estimator: Estimator = estimator or RolloutEstimator()
        self.config = config or PlannerConfig()
        self.rng = np.random.default_rng(seed)
        self._rule = RULES[self.config.rule]
        self._optimistic = self.config.backup == "max"
        self.nodes: dict[str, Node] = {}
        self.evaluated: dict[str, float | None] = {}  # state key -> value (None: failed)
        self.pending: dict[str, Proposal] = {}  # state key -> proposal in flight
        self.vmin, self.vmax = math.inf, -math.inf
        self._next_id = 0
        self._dirty_nodes: dict[str, Node] = {}
        self.root = self._node(game.initial_state(), 0)

    # -- public API --------------------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        """True when every formulation of a finite game has been evaluated."""
        return self.root.solved

    def root_value(self) -> float | None:
        """The backed-up value of the game (minimax / expectimax over the tree so far)."""
        return self.root.value

    def ask(self, n: int = 1) -> list[Proposal]:
        """Up to ``n`` distinct terminal states to evaluate; fewer when the tree has run dry."""
        proposals: list[Proposal] = []
        blocked: set[str] = set()
        hits: dict[str, int] = {}  # per sampler node: draws that landed on a state already in flight
        free = stalls = 0
        while len(proposals) < n and not self.root.solved and self.root.key not in blocked:
            stalls += 1  # iterations since the last proposal: bounded, whatever the game's samplers do
            if stalls > self.config.max_free_iterations:
                break
            path, actions = self._select(blocked)
            if path is None:
                continue
            leaf = path[-1]
            if leaf.terminal:
                target: tuple[State, str] | None = (leaf.state, leaf.key)
            else:
                target = self._complete(leaf, actions)
                if target is None:  # every completion tried is in flight: look elsewhere
                    blocked.add(leaf.key)
                    continue
            state, key = target
            if key in self.pending:  # a terminal just reached by a new path is already in flight
                blocked.add(leaf.key)
                parent = path[-2] if len(path) > 1 else None
                if parent is not None and parent.sampler is not None:
                    # a sampler that keeps drawing moves already in flight is done for this ask, as a
                    # leaf is after completion_tries completions in flight
                    hits[parent.key] = hits.get(parent.key, 0) + 1
                    if hits[parent.key] >= self.config.completion_tries:
                        blocked.add(parent.key)
                continue
            if key in self.evaluated:
                self._backup(path, actions, self.evaluated[key])
                free += 1
                if free >= self.config.max_free_iterations:
                    break
                continue
            proposals.append(self._propose(state, key, path, actions))
            stalls = 0
        return proposals

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        """Back up a finished evaluation (a non-OK outcome counts as a failure)."""
        self._release(proposal)
        value = outcome.value if outcome.status is Status.OK else None
        self.evaluated[proposal.key] = value
        node = self.nodes.get(proposal.key)
        if node is not None and node.terminal:
            self._settle_terminal(node)
        path = [self.nodes[k] for k in proposal.path]
        self._backup(path, proposal.actions, value, outcome.status.value)
        self.estimator.observe(self.game, proposal.state, outcome)

    def record_path(self, moves: Sequence[Action], outcome: Outcome) -> tuple[str, ...]:
        """Count an evaluation that another method chose, along its ``moves`` from the root, so that
        its campaign has a tree too; the path's node keys."""
        node, path = self.root, [self.root]
        for action in moves:
            child = node.children.get(action)
            if child is None:
                child = node.children[action] = self._node(self.game.apply(node.state, action), node.depth + 1)
                if action in node.untried:
                    node.untried.remove(action)
            node = child
            path.append(node)
        value = outcome.value if outcome.status is Status.OK else None
        self.evaluated[node.key] = value
        if node.terminal:
            self._settle_terminal(node)
        self._backup(path, moves, value, outcome.status.value)
        return tuple(n.key for n in path)

    def forget(self, proposal: Proposal) -> None:
        """Drop an in-flight proposal that will never finish (cancelled); it may be proposed again."""
        self._release(proposal)

    def take_dirty(self) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        """Nodes changed since the last call and the moves out of them (with what the planner last
        knew of each: prior, chance probability, selection score, acquisition), as store records."""
        nodes = [self._record(n) for n in self._dirty_nodes.values()]
        edges = [self._edge(n, a, c) for n in self._dirty_nodes.values() for a, c in n.children.items()]
        self._dirty_nodes.clear()
        return nodes, edges

    def _edge(self, node: Node, action: Action, child: Node) -> EdgeRecord:
        chance = node.player is Player.CHANCE
        return EdgeRecord(node.key, child.key, self.game.describe_action(action), action,
                          prior=None if chance else node.priors.get(action),
                          probability=node.chance.get(action) if chance else None,
                          score=node.scores.get(action), acquisition=node.acquisition.get(action),
                          feasibility=node.feasibility.get(action))

    def replay(self, history: Sequence[EvaluationRecord]) -> None:
        """Learn evaluations it did not propose (states loaded): an earlier run's, before
        ``restore_tree``, or a starting formulation's, after ``record_path`` placed it in the tree."""
        for record in history:
            outcome = record.outcome()
            self.estimator.observe(self.game, record.state, outcome)
            value = outcome.value if outcome.status is Status.OK else None
            self.evaluated[record.state_key] = value
            if value is not None:
                self.vmin, self.vmax = min(self.vmin, value), max(self.vmax, value)

    def restore_tree(self, nodes: Iterable[NodeRecord], edges: Iterable[EdgeRecord]) -> None:
        """Rebuild the tree statistics the store kept (states and actions loaded)."""
        low = lambda x: -math.inf if x is None else x  # noqa: E731 - None stands for "none seen"
        high = lambda x: math.inf if x is None else x  # noqa: E731
        for rec in sorted(nodes, key=lambda r: r.depth):
            node = self._node(rec.state, rec.depth)
            node.visits, node.value_sum = rec.visits, rec.value_sum
            node.best, node.worst = low(rec.best), high(rec.worst)
            node.frontier_best, node.frontier_worst = low(rec.frontier_best), high(rec.frontier_worst)
            node.counts = dict(rec.counts)
        for edge in edges:
            parent, child = self.nodes.get(edge.parent), self.nodes.get(edge.child)
            if parent is None or child is None:
                continue
            parent.children[edge.action] = child
            for name in ("score", "acquisition", "feasibility"):
                if getattr(edge, name) is not None:
                    getattr(parent, name if name != "score" else "scores")[edge.action] = getattr(edge, name)
            if edge.action in parent.untried:
                parent.untried.remove(edge.action)
        for node in sorted(self.nodes.values(), key=lambda n: -n.depth):
            if node.terminal:
                self._settle_terminal(node)
            node.refresh(self._optimistic)

    def _record(self, node: Node) -> NodeRecord:
        finite = lambda x: x if x is not None and math.isfinite(x) else None  # noqa: E731
        return NodeRecord(
            node.key, self.game.describe_state(node.state), node.depth, node.player.value, node.visits,
            node.value_sum, finite(node.value), finite(node.best), finite(node.worst),
            finite(node.frontier_best), finite(node.frontier_worst), node.solved, node.state, dict(node.counts),
        )

    # -- tree construction -------------------------------------------------------------------
    def _node(self, state: State, depth: int) -> Node:
        key = self.game.state_key(state)
        node = self.nodes.get(key)
        if node is not None:
            return node
        try:
            hash(state)
        except TypeError:
            raise GameError(
                f"game {self.game.name!r} produced an unhashable state {state!r}; "
                "states must be immutable (tuples, frozen dataclasses)"
            ) from None
        node = Node(key, state, Player(self.game.to_move(state)), depth)
        if node.terminal:
            self._settle_terminal(node)
        elif node.player is Player.CHANCE:
            outcomes = list(self.game.chance_outcomes(state))
            total = sum(p for _, p in outcomes)
            if not outcomes or any(p < 0 for _, p in outcomes) or abs(total - 1.0) > 1e-6:
                raise GameError(
                    f"game {self.game.name!r}: chance outcomes at {state!r} must be non-negative "
                    f"probabilities summing to 1 (got {total!r})"
                )
            node.chance = {a: p for a, p in outcomes if p > 0}
        else:
            moves = self.game.actions(state)
            if is_sampler(moves):
                node.sampler = moves
            else:
                moves = list(moves)
                if not moves:
                    raise GameError(f"game {self.game.name!r}: non-terminal state {node.state!r} has no moves")
                node.priors = {a: 1.0 / len(moves) for a in moves}
                node.untried = [moves[i] for i in self.rng.permutation(len(moves))]
        self.nodes[key] = node
        return node

    def _order_moves(self, node: Node, history: tuple[Action, ...]) -> None:
        """Ask the estimator for the priors of a node's moves (finite ones, or the continuous
        children made so far) and order its untried finite moves, most promising last."""
        moves = list(node.children) if node.sampler is not None else [*node.children, *node.untried]
        if node.sampler is not None and len(moves) < 2:
            return  # not stamped: asked again once widening made a second child
        node.priors_version = self.estimator.version
        given = self.estimator.priors(self.game, node.state, moves, history)
        if isinstance(given, Priors):
            for name, values in (("acquisition", given.acquisition), ("feasibility", given.feasibility)):
                if values is not None:
                    setattr(node, name, {a: float(v) for a, v in zip(moves, values)})
            given = given.probabilities
        if given is None and node.sampler is not None:
            return
        p = np.full(len(moves), 1.0 / len(moves)) if given is None else self._checked_priors(given, len(moves))
        node.priors = dict(zip(moves, p.tolist()))
        if node.sampler is None:
            if len(moves) > self.config.wide_threshold:
                # widened progressively: the next children are a draw by prior without replacement
                # (Gumbel-top-k, as mctx's Gumbel MuZero samples its actions). The top priors alone
                # would give every sibling node the same few moves when priors barely differ
                # between them (a saliency map, say), and the rest would never be tried.
                with np.errstate(divide="ignore"):
                    keys = np.log(p) + self.rng.gumbel(size=len(p))
                order = np.argsort(keys, kind="stable")
            else:
                order = self.rng.permutation(len(moves))  # random tie-breaking, then most promising last
                order = sorted(order, key=lambda i: p[i])  # stable: ties keep the random order
            node.untried = [moves[i] for i in order if moves[i] not in node.children]

    @staticmethod
    def _checked_priors(priors: Sequence[float], n: int) -> np.ndarray:
        p = np.asarray(priors, dtype=float)
        if p.shape != (n,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError(f"estimator returned invalid priors {priors!r} for {n} moves")
        return p / p.sum()

    def _settle_terminal(self, node: Node) -> None:
        if node.key in self.evaluated:
            node.value = self.evaluated[node.key]
            node.failed = node.value is None
            node.solved = True

    def _expand(self, node: Node, history: tuple[Action, ...], chosen: bool = False) -> tuple[Action, Node]:
        """A new child (or, when the estimator picks one made before, that one). ``chosen``: the
        estimator picks the move whatever the node (otherwise only at continuous or very wide nodes)."""
        if chosen or node.sampler is not None or self._guided_wide(node):  # the estimator's choice (a random draw by default)
            pending = [p.state for p in self.pending.values()]
            moves = node.sampler if node.sampler is not None else [*node.children, *node.untried]
            action = self.estimator.widen(self.game, node.state, moves, self.rng, pending, history)
            if action in node.children:  # the estimator chose a move made before: descend into it
                return action, node.children[action]
            if node.sampler is None:
                node.untried.remove(action)
            else:  # the estimator's pick among all moves: as likely as the best child so far
                node.priors[action] = max(node.priors.values(), default=1.0)
        else:
            action = node.untried.pop()
        child = self._node(self.game.apply(node.state, action), node.depth + 1)
        node.children[action] = child
        return action, child

    def _guided_wide(self, node: Node) -> bool:
        """A searcher node with more finite moves than ``wide_threshold``, under guided selection."""
        return (self.config.value_source == "prior" and node.player is Player.SEARCHER and node.sampler is None
                and len(node.children) + len(node.untried) > self.config.wide_threshold)

    # -- selection ---------------------------------------------------------------------------
    def _may_widen(self, node: Node) -> bool:
        if node.sampler is None and not node.untried:
            return False
        wide = node.sampler is not None or len(node.children) + len(node.untried) > self.config.wide_threshold
        if not wide:
            return True
        n = node.visits + node.virtual
        return len(node.children) < max(1, math.ceil(self.config.widening_constant * n ** self.config.widening_exponent))

    def _selectable(self, node: Node, blocked: set[str]) -> bool:
        if node.solved or node.key in blocked:
            return False
        return not (node.terminal and node.key in self.pending)

    def _q(self, node: Node, mover: Player) -> float | None:
        if node.visits == 0:
            return None
        if self.config.backup == "max":
            raw = node.best if mover is Player.SEARCHER else node.worst
            if not math.isfinite(raw):  # only failures below
                raw = node.mean  # type: ignore[assignment]
        else:
            raw = node.mean  # type: ignore[assignment]
        q = 0.5 if self.vmax <= self.vmin else (raw - self.vmin) / (self.vmax - self.vmin)
        q = min(1.0, max(0.0, q))
        return q if mover is Player.SEARCHER else 1.0 - q

    def _step(self, node: Node, blocked: set[str], history: tuple[Action, ...]) -> tuple[Action, Node] | None:
        """The move to descend at ``node`` (expanding a new one when that scores best)."""
        if node.player is Player.CHANCE:
            return self._step_chance(node, blocked)
        cfg = self.config
        guided = cfg.value_source == "prior" and node.player is Player.SEARCHER  # priors favour the searcher
        if guided and (node.sampler is not None or self._guided_wide(node)):
            # a continuous (or very wide) move is the estimator's acquisition maximiser over the
            # completions below: a move already tried is never better than the best of a continuum
            # that contains it, and tree statistics over hundreds of moves would need hundreds of visits
            return self._expand(node, history)
        if node.priors_version != self.estimator.version:
            self._order_moves(node, history)  # the model changed: new priors
        if guided and getattr(self.estimator, "designing", False) and len(node.priors) > 1:
            # the estimator's initial design: its completion decides the finite moves
            # too, so the design fills the space of completions instead of following the first
            # branch that scored well (a pick that is solved or in flight falls back to the rule below)
            action, child = self._expand(node, history, chosen=True)
            if self._selectable(child, blocked):
                return action, child
        parent_visits = node.visits + node.virtual
        parent_q = self._q(node, node.player)
        first_play = 0.5 if parent_q is None else parent_q
        best_score, best = -math.inf, None
        top_prior = max(node.priors.values(), default=1.0) or 1.0
        growable = bool(node.untried) or node.sampler is not None
        children = [(a, c) for a, c in node.children.items() if self._selectable(c, blocked)]
        if guided and (growable or any(not c.failed_only for _, c in children)):
            # a branch where every evaluation failed is left while something else may succeed
            children = [(a, c) for a, c in children if not c.failed_only]
        for action, child in children:
            if guided:  # the model's view of the branch, and what was observed below it
                q = None
                if child.visits:
                    observed = self._q(child, node.player)
                    q = 0.5 * node.priors.get(action, 0.0) / top_prior + 0.5 * (observed or 0.0)
            else:
                q = self._q(child, node.player)
            visits = child.visits + child.virtual
            if q is not None and child.virtual:
                q = q * child.visits / visits  # virtual loss: in-flight visits count as the worst
            elif q is None and child.virtual:
                q = 0.0
            score = self._rule(q, visits, parent_visits, node.priors.get(action, 0.0), cfg.exploration, first_play)
            node.scores[action] = score
            if score > best_score:
                best_score, best = score, (action, child)
        if self._may_widen(node) or (best is None and (node.untried or node.sampler is not None)):
            prior = node.priors.get(node.untried[-1], 0.0) if node.untried else 1.0 / (1 + len(node.children))
            if guided and node.untried:
                first_play = prior / top_prior
            score = self._rule(None, 0, parent_visits, prior, cfg.exploration, first_play)
            if best is None or score > best_score:
                return self._expand(node, history)
        return best

    def _step_chance(self, node: Node, blocked: set[str]) -> tuple[Action, Node] | None:
        moves = [a for a in node.chance if a not in node.children or self._selectable(node.children[a], blocked)]
        if not moves:
            return None
        action = sample_chance([(a, node.chance[a]) for a in moves], self.rng)
        if action in node.children:
            return action, node.children[action]
        child = self._node(self.game.apply(node.state, action), node.depth + 1)
        node.children[action] = child
        return action, child

    def _select(self, blocked: set[str]) -> tuple[list[Node] | None, tuple[Action, ...]]:
        node = self.root
        path, actions = [node], []
        if node.terminal:
            return (path if self._selectable(node, blocked) else None), ()
        while True:
            if len(path) > self.config.max_depth:
                raise GameError(f"game {self.game.name!r} went deeper than {self.config.max_depth} moves (a cycle?)")
            step = self._step(node, blocked, tuple(actions))
            if step is None:  # nothing left to try below: solved, or all in flight
                node.refresh(self._optimistic)
                if not node.solved:
                    blocked.add(node.key)
                return None, ()
            action, child = step
            path.append(child)
            actions.append(action)
            fresh = child.visits == 0 and child.virtual == 0
            deeper = self.config.descend == "deep" and child.sampler is None and child.player is not Player.CHANCE
            if child.terminal or (fresh and not deeper):
                return path, tuple(actions)
            node = child

    def _complete(self, leaf: Node, history: tuple[Action, ...]) -> tuple[State, str] | None:
        in_flight = [p.state for p in self.pending.values()]
        for _ in range(self.config.completion_tries):
            state = self.estimator.complete(self.game, leaf.state, self.rng, in_flight, history)
            if self.game.to_move(state) is not Player.TERMINAL:
                raise ValueError(f"estimator returned a non-terminal completion {state!r}")
            key = self.game.state_key(state)
            if key not in self.pending:
                return state, key
        return None

    # -- bookkeeping -------------------------------------------------------------------------
    def _propose(self, state: State, key: str, path: Sequence[Node], actions: tuple[Action, ...]) -> Proposal:
        proposal = Proposal(self._next_id, state, key, tuple(n.key for n in path), actions)
        self._next_id += 1
        self.pending[key] = proposal
        for node in path:
            node.virtual += 1
        return proposal

    def _release(self, proposal: Proposal) -> None:
        if self.pending.pop(proposal.key, None) is None:
            raise RuntimeError(f"proposal {proposal.id} is not in flight")
        for key in proposal.path:
            self.nodes[key].virtual -= 1

    def _backup(self, path: Sequence[Node], actions: Sequence[Action], value: float | None,
                status: str | None = None) -> None:
        """Count one value (None: a failure) along ``path``; ``status`` for a new evaluation (a
        reuse of a stored value visits the path but evaluates nothing)."""
        if value is not None:
            self.vmin, self.vmax = min(self.vmin, value), max(self.vmax, value)
        penalty = self.vmin if math.isfinite(self.vmin) else 0.0
        for node in reversed(path):
            node.record(value, penalty, frontier=node is path[-1])
            node.refresh(self._optimistic)
            if status is not None:
                node.counts[status] = node.counts.get(status, 0) + 1
            self._dirty_nodes[node.key] = node
