"""The SMAC3 baseline: the game's decision sites as a conditional ConfigSpace, driven by ask/tell."""

import pytest

pytest.importorskip("smac")

from discover.types import EvalContext  # noqa: E402
from surrogates.baselines import SMACSearch  # noqa: E402
from test_site_parameters import BranchGame  # noqa: E402


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


@pytest.mark.parametrize("method", ["smac", "ax"])
def test_a_finite_space_the_method_has_exhausted_ends_the_campaign(tmp_path, method):
    import discover
    from games.slots import Slot, SlotGame
    from discover.types import Outcome

    class Six(SlotGame):
        name = "six-test"
        slots = (Slot("solver", ("p", "q")), Slot("size", (1, 2, 3)))

        def evaluate(self, state, context):
            return Outcome.ok(float(state[1]))

    result = discover.Campaign(Six(), budget=20, backend="inline", method=method, db=tmp_path / "six.db").run()
    assert result.stopped == "exhausted" and len({e.state_key for e in result.history}) == len(result.history) <= 6


def test_smac_learns_evaluations_it_did_not_propose_as_its_own_trials():
    from smac.runhistory.enumerations import StatusType
    from test_site_parameters import _record

    game = BranchGame()
    smac = SMACSearch(game, seed=0)
    history = [_record(game, ("a", 0.1234567890123456)), _record(game, ("b", 3, 0.5))]  # ok, then failed
    smac.replay(history)  # (ConfigSpace rounds a float's 16th digit away: still the state's parameters)
    runs = list(smac.smac.runhistory.items())
    assert [value.status for _, value in runs] == [StatusType.SUCCESS, StatusType.CRASHED]
    assert runs[0][1].cost == -history[0].value
    for (key, _), record in zip(runs, history):
        config = dict(smac.smac.runhistory.get_config(key.config_id))
        assert config == pytest.approx(smac.sites.params_of(game, record.state))  # only the sites it passed
    (proposal,) = smac.ask(1)  # and SMAC's own trials go on beside them
    assert proposal.key not in smac.evaluated


def test_smac_learns_the_replayed_trials_at_its_own_seed_and_skips_that_much_of_its_initial_design():
    from test_site_parameters import _record

    game = BranchGame()
    history = [_record(game, state) for state in (("a", 0.2), ("a", 0.6), ("b", 1, 0.3), ("b", 2, 0.9))]
    smac = SMACSearch(game, seed=0)
    smac.replay(history)
    design = SMACSearch(game, seed=0)._design
    assert smac._design == design - 4
    origins, seeds = [], {key.seed for key in smac.smac.runhistory}
    for _ in range(design - 4 + 1):
        (proposal,) = smac.ask(1)
        info = smac._trials[proposal.key]
        origins.append(info.config.origin)
        assert info.seed in seeds  # SMAC's own trials run at the seed the replayed ones were told at
        smac.tell(proposal, game.evaluate(proposal.state, EvalContext()))
    assert origins[:-1] == ["Initial Design: Sobol"] * (design - 4) and origins[-1] != "Initial Design: Sobol"


def test_a_failure_before_any_success_is_not_smacs_best():
    """Told at the worst cost seen, a crash told before any success (cost 0) would beat every
    success of a game whose values are negative; it is told again once successes arrive."""
    from test_site_parameters import _record

    game = BranchGame()  # values <= 0
    history = [_record(game, ("b", 3, 0.9)), _record(game, ("a", 0.3 + 0.5)), _record(game, ("b", 1, 0.7))]
    smac = SMACSearch(game, seed=0)
    smac.replay(history)  # the failure first
    costs = {smac.smac.runhistory.get_config(key.config_id)["site0"]: value for key, value in
             smac.smac.runhistory.items() if value.status.name == "CRASHED"}
    worst = max(-r.value for r in history if r.value is not None)
    assert [v.cost for v in costs.values()] == [worst] and worst > 0
    incumbent = smac.smac.intensifier.get_incumbent()
    assert dict(incumbent) == smac.sites.params_of(game, ("b", 1, 0.7))
