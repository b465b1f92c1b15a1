"""Slot-filling games: what SlotGame derives from the slot declarations."""

import math

import pytest

from discover.check import check_game
from discover.types import Interval, Player
from games.slots import Slot, SlotGame
from games.toy import FormulationGame


class Conditional(SlotGame):
    """The solver allowed depends on the method chosen first (a conditional space)."""

    name = "conditional"
    slots = (Slot("method", ("lp", "sdp")), Slot("solver", ("highs", "scs", "clarabel")),
             Slot("degree", (7, 11, 15)), Slot("tolerance", (1e-4, 1e-6, 1e-8), log=True),
             Slot("scale", interval=Interval(0.5, 2.0)))

    def actions(self, state):
        if len(state) == 1:
            return ("highs",) if state[0] == "lp" else ("scs", "clarabel")
        return super().actions(state)

    def evaluate(self, state, context):
        raise NotImplementedError


def test_features_encode_and_describe():
    game = Conditional()
    assert [(f.name, f.kind) for f in game.features()] == [
        ("method", "categorical"), ("solver", "categorical"), ("degree", "integer"),
        ("log_tolerance", "numeric"), ("scale", "numeric")]
    tolerance = game.features()[3]
    assert (tolerance.low, tolerance.high) == pytest.approx((math.log(1e-8), math.log(1e-4)))
    state = ("sdp", "clarabel", 11, 1e-6, 1.25)
    code = game.encode(state)
    assert code == [1.0, 2.0, 11.0, pytest.approx(math.log(1e-6)), 1.25]
    assert game.describe_state(state) == "method=sdp, solver=clarabel, degree=11, tolerance=1e-06, scale=1.25"
    assert game.describe_state(()) == "(empty)"
    assert game.to_move(state) is Player.TERMINAL and game.to_move(state[:2]) is Player.SEARCHER


def test_slot_declarations_are_checked():
    with pytest.raises(ValueError, match="either choices or an interval"):
        Slot("x")
    with pytest.raises(ValueError, match="log scale is for real values"):
        Slot("x", ("a", "b"), log=True)
    with pytest.raises(ValueError, match="positive"):
        Slot("x", (0.0, 1.0), log=True)


def test_slot_games_pass_the_protocol_check():
    assert len(check_game(Conditional(), playouts=10, evaluate=False)) == 10
    game = FormulationGame()
    for state in check_game(game, playouts=10, evaluate=False):
        assert len(game.encode(state)) == len(game.features())


def test_a_log_sampled_interval_is_modelled_in_logs():
    slot = Slot("scale", interval=Interval(0.1, 10.0, log=True))
    assert slot.log and slot.feature().name == "log_scale"
