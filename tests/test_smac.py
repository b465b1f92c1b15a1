"""The SMAC3 baseline: the game's decision sites as a conditional ConfigSpace, driven by ask/tell."""

import pytest

pytest.importorskip("smac")

from discover.game import Game  # noqa: E402
from discover.types import EvalContext, Interval, Outcome, Player, Status  # noqa: E402
from surrogates.baselines import SiteParameters, SMACSearch  # noqa: E402


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
    import numpy as np

    sites = SiteParameters(BranchGame(), np.random.default_rng(0))
    by_depth = {key[0]: (key, parents) for key, parents in sites.parents.items() if key[1] == "finite"}
    root, (k_site, k_parents) = by_depth[0][0], by_depth[1]
    assert sites.parents[root] is None and k_parents == {root: {1}}  # k only under 'b'
    x_site = next(key for key in sites.parents if key[:2] == (1, "interval"))
    y_site = next(key for key in sites.parents if key[:2] == (2, "interval"))
    assert sites.parents[x_site] == {root: {0}} and sites.parents[y_site] == {k_site: {0, 1, 2}}


def test_smac_proposes_only_the_active_sites_and_learns_failures_as_crashes():
    from smac.runhistory.enumerations import StatusType

    game = BranchGame()
    smac = SMACSearch(game, seed=0)
    failures = 0
    for _ in range(17):  # 15 of its initial design, then its random forest
        (proposal,) = smac.ask(1)
        info = smac._trials[proposal.key]
        walked = {smac.sites.names[site] for site in {s.site for s in smac.sites.space.walk(
            game, game.initial_state(), _replay(proposal.state)).steps}}
        assert set(dict(info.config)) == walked  # inactive sites are neither proposed nor modelled
        outcome = game.evaluate(proposal.state, EvalContext())
        failures += not outcome.succeeded
        smac.tell(proposal, outcome)
    statuses = [value.status for value in smac.smac.runhistory._data.values()]
    assert failures and statuses.count(StatusType.CRASHED) == failures
    assert len(set(smac.evaluated)) == 17


def _replay(state):
    moves = iter(state)
    return lambda legal, depth, chance=False: next(moves)
