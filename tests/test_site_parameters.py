"""The game's decision sites as the parameters of the baselines that need them up front (Ax, SMAC)."""

import numpy as np

from discover.game import Game
from discover.types import Interval, Outcome, Player, Status
from surrogates.baselines import AxSearch, SiteParameters


class BranchGame(Game):
    """Branch 'a' sets x; branch 'b' picks k in {1, 2, 3}, then sets y. k = 3 fails."""

    name = "branch-test"

    def initial_state(self):
        return ()

    def to_move(self, state):
        done = len(state) == (2 if state[:1] == ("a",) else 3)
        return Player.TERMINAL if state and done else Player.SEARCHER

    def actions(self, state):
        if not state:
            return ("a", "b")
        if state[0] == "b" and len(state) == 1:
            return (1, 2, 3)
        return Interval(0.0, 1.0)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        if state[0] == "a":
            return Outcome.ok(-(state[1] - 0.3) ** 2)
        if state[1] == 3:
            return Outcome.failure(Status.FAILED, "k = 3 never works")
        return Outcome.ok(-(state[2] - 0.7) ** 2 - 0.1 * state[1])


def test_sites_are_conditioned_on_the_decision_that_leads_to_them():
    sites = SiteParameters(BranchGame(), np.random.default_rng(0))
    by_depth = {key[0]: (key, parents) for key, parents in sites.parents.items() if key[1] == "finite"}
    root, (k_site, k_parents) = by_depth[0][0], by_depth[1]
    assert sites.parents[root] is None and k_parents == {root: {1}}  # k only under 'b'
    x_site = next(key for key in sites.parents if key[:2] == (1, "interval"))
    y_site = next(key for key in sites.parents if key[:2] == (2, "interval"))
    assert sites.parents[x_site] == {root: {0}} and sites.parents[y_site] == {k_site: {0, 1, 2}}


def test_sites_that_form_a_tree_are_axs_hierarchical_space():
    sites = SiteParameters(BranchGame(), np.random.default_rng(0))
    names = {key[:2]: name for key, name in sites.names.items()}
    root, k, x, y = names[(0, "finite")], names[(1, "finite")], names[(1, "interval")], names[(2, "interval")]
    # y follows every k, so it is active whenever k is: both hang under 'b'
    assert sites.tree() == {root: {1: [k, y], 0: [x]}}
    ax = AxSearch(BranchGame(), seed=0)
    assert ax.client._experiment.search_space.is_hierarchical
    for _ in range(3):
        (proposal,) = ax.ask(1)
        ax.tell(proposal, BranchGame().evaluate(proposal.state, None))
    assert len(ax.evaluated) == 3


class TwoOfThree(Game):
    """'a' and 'b' go on to a real x; 'c' ends at once: x is active under two choices of three."""

    name = "two-of-three-test"

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if state == ("c",) or len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return ("a", "b", "c") if not state else Interval(0.0, 1.0)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.ok(0.0)


def test_sites_that_form_no_tree_leave_ax_a_flat_space():
    assert SiteParameters(TwoOfThree(), np.random.default_rng(0)).tree() is None
    assert not AxSearch(TwoOfThree(), seed=0).client._experiment.search_space.is_hierarchical


def _record(game, state):
    from discover.types import EvalContext, EvaluationRecord

    outcome = game.evaluate(state, EvalContext())
    return EvaluationRecord(game.state_key(state), "", outcome.value, outcome.status.value, "", 0.0, {}, "", "",
                            0.0, 0.0, None, [], state=state)


def test_site_parameters_of_a_state_walk_back_to_it():
    game = BranchGame()
    sites = SiteParameters(game, np.random.default_rng(0))
    for state in (("a", 0.25), ("b", 2, 0.75)):
        params = sites.params_of(game, state)
        assert len(params) == len(state)  # only the sites it passed
        assert sites.walk(game, params, np.random.default_rng(1)).state == state
    assert sites.params_of(game, ("b", 4, 0.5)) is None  # 4 is no legal move


def test_ax_learns_evaluations_it_did_not_propose_as_attached_trials():
    game = BranchGame()
    ax = AxSearch(game, seed=0)
    history = [_record(game, ("a", 0.25)), _record(game, ("b", 3, 0.5))]  # ok, then failed
    ax.replay(history)
    trials = ax.client._experiment.trials
    assert len(trials) == 2 and all(t.status.is_completed for t in trials.values())
    data = ax.client._experiment.lookup_data().df.set_index(["trial_index", "metric_name"])["mean"]
    assert data[(0, "value")] == history[0].value and data[(1, "violation")] == 1.0  # the failure is infeasible
    assert dict(trials[1].arm.parameters) == ax.sites.params_of(game, ("b", 3, 0.5))


class FlatBranchGame(BranchGame):
    """'a' and 'b' both lead to x, 'c' to nothing: x hangs under two of three choices, no tree."""

    name = "flat-branch-test"

    def to_move(self, state):
        return Player.TERMINAL if state[:1] == ("c",) or len(state) == 2 else Player.SEARCHER

    def actions(self, state):
        return ("a", "b", "c") if not state else Interval(0.0, 1.0)

    def evaluate(self, state, context):
        return Outcome.ok(0.0 if state[0] == "c" else state[1])


def test_ax_attaches_a_flat_spaces_inactive_parameters_at_their_middle():
    game = FlatBranchGame()
    ax = AxSearch(game, seed=0)
    assert ax.sites.tree() is None and not ax.client._experiment.search_space.is_hierarchical
    ax.replay([_record(game, ("c",)), _record(game, ("b", 0.8))])
    parameters = [dict(t.arm.parameters) for t in ax.client._experiment.trials.values()]
    x = next(ax.sites.names[key] for key in ax.sites.names if key[1] == "interval")
    assert [p[x] for p in parameters] == [0.5, 0.8]


class NestedGame(Game):
    """root in (a, b), then k in (1, 2); y in [0, 1] follows k under 'a' only, w in [0, 2] follows k = 2.
    The nearest finite decision before y is k, under both its choices: y hangs at the top of Ax's tree,
    so Ax wants it in every arm, also for ('b', 1), which never passes it."""

    name = "nested-test"

    def initial_state(self):
        return ()

    def to_move(self, state):
        done = len(state) >= 2 and len(state) == 2 + (state[0] == "a") + (state[1] == 2)
        return Player.TERMINAL if done else Player.SEARCHER

    def actions(self, state):
        if len(state) < 2:
            return ("a", "b") if not state else (1, 2)
        return Interval(0.0, 1.0) if len(state) == 2 and state[0] == "a" else Interval(0.0, 2.0)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.ok(float(state[1]))


def test_ax_attaches_the_parameters_its_tree_wants_also_those_the_state_did_not_pass():
    game = NestedGame()
    ax = AxSearch(game, seed=0)
    assert ax.client._experiment.search_space.is_hierarchical
    ax.replay([_record(game, ("a", 1, 0.3)), _record(game, ("b", 1))])
    arms = [dict(t.arm.parameters) for t in ax.client._experiment.trials.values()]
    y = next(name for key, name in ax.sites.names.items() if key[:2] == (2, "interval") and key[3] == 1.0)
    assert len(arms) == 2 and arms[0][y] == 0.3 and arms[1][y] == 0.5  # ('b', 1) has y at its middle


def test_a_formulation_drawn_again_while_in_flight_leaves_its_own_trial_to_be_told():
    from discover.types import EvalContext

    game = FlatBranchGame()  # 'c' ignores x: Ax's different arms give the same formulation
    for seed in range(10):
        ax = AxSearch(game, seed=seed)
        pending = [p for _ in range(4) for p in ax.ask(1)]
        if len(ax.client._experiment.trials) > len(pending):  # a drawn arm repeated one in flight
            break
    for proposal in pending:
        ax.tell(proposal, game.evaluate(proposal.state, EvalContext()))
    statuses = [t.status.name for t in ax.client._experiment.trials.values()]
    assert "RUNNING" not in statuses and statuses.count("COMPLETED") == len(pending)


def test_site_parameters_skip_chance_moves():
    from games.toy.dice import DiceGame

    game = DiceGame()
    sites = SiteParameters(game, np.random.default_rng(0))
    state = game.random_completion(game.initial_state(), np.random.default_rng(1))
    params = sites.params_of(game, state)
    searcher = [a for a, before in zip(game.moves_of(state), _states(game, state))
                if game.to_move(before) is not Player.CHANCE]
    assert len(params) == len(searcher) and all(isinstance(v, int) for v in params.values())


def _states(game, state):
    current, out = game.initial_state(), []
    for action in game.moves_of(state):
        out.append(current)
        current = game.apply(current, action)
    return out


def test_a_samplers_site_is_a_parameter_at_its_middle_since_walk_draws_its_move():
    from test_planner import _SampledCoin

    game = _SampledCoin()
    sites = SiteParameters(game, np.random.default_rng(0))
    ((name, site),) = sites.sites.items()
    assert site.kind == "real" and site.interval is None
    assert sites.params_of(game, (1,)) == {name: 0.5}
    assert {sites.walk(game, {name: 0.5}, np.random.default_rng(i)).state for i in range(8)} == {(0,), (1,)}
