"""The MCTS planner: optimisation, minimax and expectimax backups, batches, transpositions, widening."""

import math

import numpy as np
import pytest

from discover.errors import SettingsError
from discover.game import Game, load_game
from discover.planner import Planner, PlannerConfig, RolloutEstimator
from discover.types import EvalContext, Interval, Outcome, Player, Status
from games.toy import FormulationGame


def exact_value(game, state=None):
    """Brute-force minimax / expectimax through the public game API (independent of the planner)."""
    state = game.initial_state() if state is None else state
    player = game.to_move(state)
    if player is Player.TERMINAL:
        return game.evaluate(state, EvalContext()).value
    if player is Player.CHANCE:
        return sum(p * exact_value(game, game.apply(state, a)) for a, p in game.chance_outcomes(state))
    values = [exact_value(game, game.apply(state, a)) for a in game.actions(state)]
    return max(values) if player is Player.SEARCHER else min(values)


def drive_states(planner, budget, batch=1):
    """Ask/tell with inline evaluation; returns the evaluated proposals in order."""
    told = []
    while len(told) < budget and not planner.exhausted:
        proposals = planner.ask(min(batch, budget - len(told)))
        if not proposals:
            break
        for p in proposals:
            planner.tell(p, planner.game.evaluate(p.state, EvalContext()).checked())
            told.append(p)
    return told


def drive(planner, budget, batch=1):
    """:func:`drive_states`, giving the evaluated keys."""
    return [p.key for p in drive_states(planner, budget, batch)]


@pytest.mark.slow  # 14 s: the default suite must stay under 5 minutes on 2 cores
def test_finds_formulation_optimum_on_nine_of_ten_seeds(run_campaign):
    # 864 discrete formulations and a continuous scale; random search would need ~4500 evaluations
    hits = 0
    for seed in range(10):
        result = run_campaign("toy-formulation", budget=1200, seed=seed, backend="inline", surrogate="none")
        assert len(result.history) == 1200
        hits += result.best_value >= FormulationGame.optimum - 0.01
    assert hits >= 9, f"optimum found on {hits}/10 seeds"


def test_formulation_value_is_the_documented_optimum():
    game = FormulationGame()
    assert game.evaluate(game.optimal_state, EvalContext()).value == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    samples = [game.evaluate(game.random_completion((), rng), EvalContext()).value for _ in range(2000)]
    assert max(v for v in samples if v is not None) < 1.0
    infeasible = sum(v is None for v in samples) / len(samples)
    assert 0.1 < infeasible < 0.5  # whole regions fail, as real formulation spaces do


@pytest.mark.parametrize("rule", ["uct", "puct"])
def test_minimax_value_reproduced(rule):
    game = load_game("toy-minimax", depth=4, branching=3, seed=7)
    planner = Planner(game, config=PlannerConfig(rule=rule), seed=1)
    keys = drive(planner, 10_000)
    assert planner.exhausted and len(keys) == 81 == len(set(keys))
    assert planner.root_value() == pytest.approx(exact_value(game), abs=1e-12)


def test_minimax_differs_from_plain_maximum():
    game = load_game("toy-minimax", depth=4, branching=3, seed=7)
    planner = Planner(game, seed=0)
    drive(planner, 10_000)
    best_leaf = max(planner.evaluated.values())
    assert planner.root_value() < best_leaf  # the opponent's moves really are minimised over


def test_chance_expectation_reproduced():
    game = load_game("toy-dice", faces=6)
    planner = Planner(game, seed=3)
    drive(planner, 10_000)
    assert planner.exhausted
    assert planner.root_value() == pytest.approx(exact_value(game), abs=1e-12)


def test_chance_with_many_outcomes_is_sampled_and_converges():
    game = load_game("toy-dice", faces=200)
    planner = Planner(game, seed=0)
    drive(planner, 600)  # of 1200 terminals
    root = planner.root
    chance_nodes = [c for c in root.children.values()]
    assert any(len(c.children) < 200 for c in chance_nodes), "expected some chance nodes only sampled"
    assert planner.root_value() == pytest.approx(exact_value(game), rel=0.02)


def test_batch_proposals_are_distinct_and_virtual_loss_is_released():
    game = load_game("toy-formulation")
    planner = Planner(game, seed=0)
    drive(planner, 20)
    batch = planner.ask(8)
    assert len(batch) == 8
    assert len({p.key for p in batch}) == 8
    assert planner.root.virtual == 8
    for p in batch:
        planner.tell(p, game.evaluate(p.state, EvalContext()).checked())
    assert all(node.virtual == 0 for node in planner.nodes.values())
    assert planner.root.visits == 28


def test_forget_releases_a_cancelled_proposal():
    game = load_game("toy-minimax")
    planner = Planner(game, seed=0)
    (p,) = planner.ask(1)
    planner.forget(p)
    assert planner.root.virtual == 0 and not planner.pending
    assert p.key in {q.key for q in planner.ask(81)}  # it can be proposed again


class SubsetGame(Game):
    """Pick 2 of 5 items in any order: 20 move orders reach 10 distinct subsets (transpositions)."""

    name = "subset-test"

    def initial_state(self):
        return frozenset()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return [i for i in range(5) if i not in state]

    def apply(self, state, action):
        return state | {action}

    def state_key(self, state):
        return ",".join(map(str, sorted(state)))

    def evaluate(self, state, context):
        return Outcome.ok(float(sum(state)))


def test_transpositions_merge_and_nothing_is_evaluated_twice():
    planner = Planner(SubsetGame(), seed=0)
    keys = drive(planner, 1000)
    assert planner.exhausted
    assert sorted(keys) == sorted({",".join(map(str, sorted((a, b)))) for a in range(5) for b in range(a + 1, 5)})
    assert len(planner.nodes) == 1 + 5 + 10  # root, singletons, pairs: merged, not 1 + 5 + 20
    assert planner.root_value() == 7.0


class ContinuousGame(Game):
    """Two real moves in [0, 1]; value peaks at (0.7, 0.2)."""

    name = "continuous-test"

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return Interval(0.0, 1.0)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.ok(-((state[0] - 0.7) ** 2) - (state[1] - 0.2) ** 2)


def test_progressive_widening_on_continuous_moves():
    planner = Planner(ContinuousGame(), config=PlannerConfig(widening_constant=1.0, widening_exponent=0.5), seed=0)
    keys = drive(planner, 200)
    assert len(keys) == 200 == len(set(keys))
    assert 1 < len(planner.root.children) <= math.ceil(200**0.5)
    assert max(planner.evaluated.values()) > -0.01


def test_progressive_widening_limits_wide_discrete_nodes():
    game = load_game("toy-formulation")
    config = PlannerConfig(wide_threshold=2)  # treat 3 families as "wide"
    planner = Planner(game, config=config, seed=0)
    drive(planner, 9)
    assert len(planner.root.children) <= math.ceil(planner.root.visits ** 0.5)


class Grid(ContinuousGame):
    """Two moves of 0..49 each; the value does not matter here."""

    name = "grid-test"

    def actions(self, state):
        return range(50)

    def evaluate(self, state, context):
        return Outcome.ok(-abs(state[0] - 25) - abs(state[1] - 25))


class RisingPrior(RolloutEstimator):
    def priors(self, game, state, actions, history=()):
        return [1.0 + a / 100 for a in actions]  # barely different: a saliency map, say


def test_wide_nodes_draw_new_moves_by_prior_rather_than_always_the_top_ones():
    planner = Planner(Grid(), estimator=RisingPrior(), config=PlannerConfig(rule="puct", wide_threshold=4), seed=0)
    drive(planner, 300)
    # the first moves each node expanded (children keep their expansion order)
    firsts = [tuple(child.children)[:3] for child in [planner.root, *planner.root.children.values()]
              if len(child.children) >= 3]
    assert len(firsts) >= 4
    # each node has its own draw, not the same top moves (49, 48, 47) everywhere
    assert len(set(firsts)) == len(firsts) and (49, 48, 47) not in firsts


class OneHotPrior(RolloutEstimator):
    def priors(self, game, state, actions, history=()):
        return [1.0 if a == "hybrid" else 0.0 for a in actions] if "hybrid" in actions else None


def test_puct_uses_estimator_priors():
    game = load_game("toy-formulation")
    planner = Planner(game, estimator=OneHotPrior(), config=PlannerConfig(rule="puct"), seed=0)
    (first,) = planner.ask(1)
    assert first.state[0] == "hybrid"


def test_same_seed_same_proposals_and_different_seed_differs():
    game = load_game("toy-formulation")
    a = drive(Planner(game, seed=5), 40)
    b = drive(Planner(game, seed=5), 40)
    c = drive(Planner(game, seed=6), 40)
    assert a == b
    assert a != c


def test_failed_evaluations_do_not_break_backup():
    game = load_game("toy-faulty", faults=False)
    planner = Planner(game, seed=0)
    for i, p in enumerate(iter(lambda: planner.ask(1), [])):
        (p,) = p
        planner.tell(p, Outcome.failure(Status.FAILED, "boom") if i % 2 else game.evaluate(p.state, EvalContext()))
    assert planner.exhausted
    ok = [v for v in planner.evaluated.values() if v is not None]
    assert planner.root_value() == max(ok)


def test_invalid_config_is_refused():
    with pytest.raises(SettingsError, match="rule"):
        PlannerConfig(rule="nope")
    with pytest.raises(SettingsError, match="backup"):
        PlannerConfig(backup="median")


class FavouriteFormulation(RolloutEstimator):
    """Priors that put almost everything on one discrete formulation."""

    favourite = ("sdp", "laguerre", 12, "mpfr", "sdpa")

    def priors(self, game, state, actions, history=()):
        target = self.favourite[len(state)]
        return [0.97 if a == target else 0.03 / (len(actions) - 1) for a in actions]


def test_deep_descent_follows_priors_down_to_the_continuous_move():
    game = load_game("toy-formulation")
    config = PlannerConfig(rule="puct", value_source="prior", descend="deep", exploration=0.5)
    planner = Planner(game, estimator=FavouriteFormulation(), config=config, seed=0)
    first = planner.ask(1)[0]
    # one iteration descends through five new nodes to the one whose only move left is continuous
    assert len(first.path) == 6 and first.state[:5] == FavouriteFormulation.favourite
    planner.tell(first, game.evaluate(first.state, EvalContext()).checked())
    keys = drive(planner, 30)
    chosen = [planner.nodes[p] for p in planner.nodes if planner.nodes[p].depth == 5]
    assert len(keys) == 30
    assert max(chosen, key=lambda n: n.visits).state == FavouriteFormulation.favourite


def test_guided_settings_are_validated():
    with pytest.raises(SettingsError, match="value_source"):
        PlannerConfig(value_source="oracle")
    with pytest.raises(SettingsError, match="descend"):
        PlannerConfig(descend="sideways")


def drive_out_of_order(planner, budget, workers, rng):
    """Like k workers: keep ``workers`` proposals in flight and finish them in random order."""
    inflight, done = [], []
    while len(done) < budget:
        for p in planner.ask(min(workers - len(inflight), budget - len(done) - len(inflight))):
            assert p.key not in {q.key for q in inflight}, "a state was proposed while in flight"
            inflight.append(p)
        if not inflight:
            break
        p = inflight.pop(int(rng.integers(len(inflight))))
        planner.tell(p, planner.game.evaluate(p.state, EvalContext()).checked())
        done.append(p.key)
    for p in inflight:
        planner.forget(p)
    return done


@pytest.mark.parametrize("name, params", [("toy-dice", {"faces": 100}), ("toy-dice", {}), ("toy-minimax", {}),
                                          ("toy-formulation", {})])
@pytest.mark.parametrize("workers", [2, 4])
def test_invariants_when_workers_finish_in_any_order(name, params, workers):
    """Each state is in flight at most once, every proposal is told exactly once (the crash of
    'proposal N is not in flight' with 2 workers), and exhausted trees keep their exact value."""
    game = load_game(name, **params)
    for seed in range(15):
        planner = Planner(game, seed=seed)
        done = drive_out_of_order(planner, 60, workers, np.random.default_rng(seed))
        assert len(done) == len(set(done))
        assert not planner.pending and all(n.virtual == 0 for n in planner.nodes.values())
        if planner.exhausted:
            assert planner.root_value() == pytest.approx(exact_value(game), abs=1e-12)


class _CoinSampler:
    """A 'very wide' move set drawn by sampling, that only ever draws two values."""

    def sample(self, rng):
        return int(rng.integers(2))


class _SampledCoin(Game):
    name = "sampled-coin"

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if state else Player.SEARCHER

    def actions(self, state):
        return _CoinSampler()

    def apply(self, state, action):
        return (action,)

    def evaluate(self, state, context):
        return Outcome.ok(state[0])


def test_ask_returns_when_a_sampler_only_draws_states_in_flight():
    planner = Planner(_SampledCoin(), seed=0)
    first = planner.ask(2)
    assert sorted(p.state for p in first) == [(0,), (1,)]
    assert planner.ask(1) == []  # both in flight: nothing new, and no endless redrawing
    planner.tell(first[0], Outcome.ok(1.0))
    assert planner.ask(1) == []


class BranchThenScale(Game):
    """Pick a branch, then a real scale; every formulation of branch "dead" fails."""

    name = "branch-scale-test"

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return ("dead", "live", "fair") if not state else Interval(0.0, 1.0)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        branch, scale = state
        if branch == "dead":
            return Outcome.failure(Status.INFEASIBLE, "never solves")
        return Outcome.ok(scale if branch == "live" else 0.5 * scale)


def test_a_branch_whose_every_evaluation_failed_is_not_reselected_while_others_may_succeed():
    game = BranchThenScale()
    for seed in range(5):
        planner = Planner(game, config=PlannerConfig.guided(), seed=seed)
        drive(planner, 30)
        dead = planner.root.children.get("dead")
        assert dead is None or dead.visits == 1, f"seed {seed}: the failed branch was visited {dead.visits} times"
        assert planner.root.children["live"].visits + planner.root.children["fair"].visits >= 29


class PicksSeventeen(RolloutEstimator):
    """An estimator whose acquisition maximiser is always move 17 (or the top of an interval)."""

    def widen(self, game, state, moves, rng, pending, history):
        return moves.high if isinstance(moves, Interval) else 17


class WideThenScale(BranchThenScale):
    name = "wide-scale-test"

    def actions(self, state):
        return tuple(range(100)) if not state else Interval(0.0, 1.0)

    def evaluate(self, state, context):
        return Outcome.ok(-abs(state[0] - 17) + state[1])


def test_guided_search_takes_wide_and_continuous_moves_from_the_estimator():
    game = WideThenScale()
    planner = Planner(game, estimator=PicksSeventeen(), config=PlannerConfig.guided(), seed=0)
    first, second = drive_states(planner, 2)
    assert first.state[0] == 17  # not a PUCT expansion of an arbitrary move (the leaf is then completed)
    assert second.state == (17, 1.0)  # back through that child, whose continuous move is the estimator's
    unguided = Planner(game, estimator=PicksSeventeen(), config=PlannerConfig(), seed=0)
    assert [p.state[0] for p in drive_states(unguided, 5)] != [17] * 5  # plain MCTS widens progressively


class _FailingBranch(Game):
    """Two moves, then one forced move: everything below "a" fails, "b" is worth -5."""

    name = "failing-branch"

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return ("a", "b") if not state else ("x",)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.failure(Status.FAILED, "boom") if state[0] == "a" else Outcome.ok(-5.0)


def test_a_branch_where_everything_failed_is_not_the_value_of_the_game():
    """Failures count as a penalty for selection (0 before any value is seen, above every negative
    value); the backed-up value of the game is made of values only."""
    for seed in range(20):
        planner = Planner(_FailingBranch(), seed=seed)
        first = planner.ask(1)[0]
        if first.state[0] == "a":
            break
    planner.tell(first, Outcome.failure(Status.FAILED, "boom"))
    second = planner.ask(1)[0]
    assert second.state == ("b", "x")
    planner.tell(second, Outcome.ok(-5.0))
    assert planner.root_value() == -5.0
