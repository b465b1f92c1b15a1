"""A game's starting formulations: submitted first, evaluated once, learnt by every method."""

import inspect
import time

import pytest

import discover
from discover.errors import GameError
from discover.game import starting_states as checked_starts
from discover.types import EvalContext, EvaluationRecord, Outcome
from games.sphere_packing import cohn_elkies_bound
from games.sphere_packing.bound import Formulation
from games.sphere_packing.game import SpherePackingGame, lp_formulation
from games.slots import Slot, SlotGame
from games.toy.formulation import FormulationGame
from surrogates.baselines import TPESearch

START = ("lp", "monomial", 2, "double", "scs", 0.75)  # a poor formulation no method would pick first


class Started(FormulationGame):
    """The toy formulation game with a starting formulation, as a plugin declares one."""

    name = "toy-formulation-started"

    def __init__(self, starts=(START,)) -> None:
        super().__init__()
        self.starts = starts

    def starting_states(self):
        return self.starts


@pytest.mark.parametrize("method", ["mcts", "random", "flat-bo", "tpe", "smac"])
def test_the_starting_formulation_is_evaluated_first_once_and_learnt(run_campaign, method):
    game = Started((START, START))
    result = run_campaign(game, budget=8, backend="inline", method=method, seed=1)
    keys = [e.state_key for e in result.history]
    assert keys[0] == game.state_key(START) and len(keys) == 8 == len(set(keys))
    with discover.open(result.db) as store:
        root = next(n for n in store.tree()[0] if n.depth == 0)
    assert root.visits == 8  # the tree counts it as it counts the method's own evaluations


def test_a_starting_formulation_is_not_evaluated_again_on_resume(tmp_path):
    db = tmp_path / "started.db"
    first = discover.Campaign(Started(), budget=1, db=db, backend="inline", seed=0).run()
    assert [e.state_key for e in first.history] == [Started().state_key(START)]
    more = discover.Campaign.resume(db, budget=5, game=Started()).run()
    keys = [e.state_key for e in more.history]
    assert len(keys) == 5 == len(set(keys))


class SlowStart(SlotGame):
    """Three formulations; the starting one is slow, the others quick."""

    name = "toy-slow-start"
    slots = (Slot("x", (1, 2, 3)),)

    def evaluate(self, state, context):
        time.sleep(3.0 if state == (3,) else 0.2)
        return Outcome.ok(float(state[0]))

    def starting_states(self):
        return [(3,)]


def test_two_workers_never_evaluate_a_starting_formulation_twice_nor_wait_for_it(run_campaign):
    # UCT tries the move of the start in flight too: that proposal must wait for the start's outcome
    # without holding the free worker
    result = run_campaign(SlowStart(), budget=3, workers=2, seed=0)
    keys = [e.state_key for e in result.history]
    assert len(keys) == 3 == len(set(keys))
    start = next(e for e in result.history if e.label == "x=3")
    assert all(e.finished < start.finished for e in result.history if e is not start)
    with discover.open(result.db) as store:
        root = next(n for n in store.tree()[0] if n.depth == 0)
    assert root.visits == 3


@pytest.mark.parametrize("start", [("sdp", "laguerre"), ("sdp", "laguerre", 99, "mpfr", "sdpa", 1.3),
                                   ("sdp", "laguerre", 12.0, "mpfr", "sdpa", 1.3),  # 12.0 is not the move 12
                                   ("sdp", "laguerre", 12, "mpfr", "sdpa", 1)])  # nor 1 a point of an Interval
def test_a_bad_starting_formulation_gets_one_line_before_any_store(tmp_path, start):
    db = tmp_path / "never.db"
    with pytest.raises(GameError, match="starting state"):
        discover.Campaign(Started((start,)), budget=2, db=db, backend="inline")
    assert not db.exists()
    with pytest.raises(GameError, match="starting state"):
        discover.check_game(Started((start,)), evaluate=False)
    discover.check_game(Started(), evaluate=False)


def test_sphere_packing_starts_from_the_library_call_at_its_largest_degree():
    game = SpherePackingGame(dimension=4, max_degree=50)
    ((family, *components),) = game.starting_states()
    defaults = {name: p.default for name, p in inspect.signature(cohn_elkies_bound).parameters.items()}
    library = Formulation(4, 47, defaults["basis"], defaults["solver"], defaults["margin"], defaults["tolerance"])
    assert family == "cohn-elkies" and lp_formulation(4, tuple(components)) == library


def test_tpe_learns_an_evaluation_it_did_not_propose_as_its_own_trial():
    game = Started()
    outcome = game.evaluate(START, EvalContext())
    record = EvaluationRecord(game.state_key(START), "", outcome.value, outcome.status.value, "", 0.0, {}, "", "",
                              0.0, 0.0, None, [], state=START)
    tpe = TPESearch(game, seed=0)
    tpe.replay([record])
    (trial,) = tpe.study.trials
    assert trial.value == outcome.value
    assert tpe._walk(trial, START) == START  # the trial's parameters are the start's moves


def test_tpe_resumes_past_a_stored_move_the_game_no_longer_offers():
    gone = ("sdp", "laguerre", 99, "mpfr", "sdpa", 1.3)
    record = EvaluationRecord(Started().state_key(gone), "", 0.5, "ok", "", 0.0, {}, "", "", 0.0, 0.0, None, [],
                              state=gone)
    tpe = TPESearch(Started(), seed=0)
    tpe.replay([record])
    assert tpe.study.trials == [] and tpe.evaluated == {record.state_key: 0.5}


def test_the_three_point_start_is_the_library_calls_formulation():
    from games.sphere_packing.three_point import ThreePointFormulation
    from games.sphere_packing.three_point_bound import three_point_bound
    from games.sphere_packing.three_point_family import formulation

    game = SpherePackingGame(dimension=4, families="three-point")
    ((family, *components),) = game.starting_states()
    defaults = {name: p.default for name, p in inspect.signature(three_point_bound).parameters.items()}
    library = ThreePointFormulation(4, *(defaults[k] for k in ("degree", "kernel_degree", "solver", "margin")),
                                    defaults["margin3"] or defaults["margin"], defaults["radial_basis"],
                                    defaults["blocks"])
    assert family == "three-point" and formulation(4, tuple(components)) == library
    assert components[2] == defaults["truncation"] and defaults["radius"] is None and components[5] == 1.0  # r_LP
    assert SpherePackingGame(dimension=4, families="three-point", max_kernel_degree=4).starting_states() == []
    assert checked_starts(game) == game.starting_states()  # legal, complete, written as the game offers it
