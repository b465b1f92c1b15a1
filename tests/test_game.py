"""The Game protocol's helpers and the registry: parameters, plugins, sampling, encodings."""

import collections
import math

import numpy as np
import pytest

from discover.errors import GameError, ParameterError, PluginError, UnknownGameError
from discover.game import Game, Param, available_games, game_class, load_game, register_game, sample_chance
from discover.types import Outcome, Player


@pytest.mark.parametrize("param, given, expected", [
    (Param("n", "int"), "12", 12), (Param("n", "int"), 3.0, 3), (Param("x", "float"), "0.5", 0.5),
    (Param("b", "bool"), "yes", True), (Param("b", "bool"), "off", False), (Param("s", "str"), 7, "7"),
])
def test_parameters_are_coerced_from_the_command_line(param, given, expected):
    assert param.coerce(given) == expected


@pytest.mark.parametrize("param, given", [
    (Param("n", "int"), "1.5"), (Param("n", "int"), True), (Param("n", "int"), 2.5), (Param("x", "float"), "fast"),
    (Param("b", "bool"), "maybe"), (Param("s", "str"), [1]), (Param("c", "str", choices=("a", "b")), "z"),
])
def test_bad_parameter_values_name_the_parameter(param, given):
    with pytest.raises(ParameterError, match=repr(param.name)):
        param.coerce(given)


class Coin(Game):
    name = "coin-test"
    params = (Param("bias", "float", 0.5, "probability of heads"), Param("rounds", "int", required=True))

    def __init__(self, bias=0.5, rounds=1):
        if not 0 <= bias <= 1:
            raise ValueError("bias must be a probability")
        self.bias, self.rounds = bias, rounds

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == self.rounds else Player.CHANCE

    def actions(self, state):
        return ()

    def chance_outcomes(self, state):
        return [("H", self.bias), ("T", 1 - self.bias)]

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.ok(state.count("H"))


def test_registry_loads_validates_and_refuses():
    register_game(Coin)
    assert game_class("coin-test") is Coin and "coin-test" in available_games()
    game = load_game("coin-test", rounds="3")
    assert game.parameters() == {"bias": 0.5, "rounds": 3}
    with pytest.raises(ParameterError, match="needs parameter 'rounds'"):
        load_game("coin-test")
    with pytest.raises(ParameterError, match="no parameter 'sides'"):
        load_game("coin-test", rounds=1, sides=2)
    with pytest.raises(ParameterError, match="refused its parameters: bias must be a probability"):
        load_game("coin-test", rounds=1, bias=2)
    with pytest.raises(UnknownGameError, match="toy-dice"):
        load_game("no-such-game")
    with pytest.raises(PluginError, match="not a subclass"):
        register_game(int)

    class Abstract(Game):
        name = "abstract-test"

    with pytest.raises(PluginError, match="does not implement"):
        register_game(Abstract)


def test_chance_sampling_follows_the_probabilities_and_random_completion_ends():
    rng = np.random.default_rng(0)
    counts = collections.Counter(sample_chance([("a", 0.2), ("b", 0.8)], rng) for _ in range(4000))
    assert counts["b"] / 4000 == pytest.approx(0.8, abs=0.03)
    game = Coin(bias=0.9, rounds=5)
    state = game.random_completion(game.initial_state(), rng)
    assert len(state) == 5 and game.to_move(state) is Player.TERMINAL


def test_checked_encoding_loses_a_bad_encoding_not_the_search():
    from games.toy import FormulationGame

    game = FormulationGame()
    assert game.checked_encoding(game.optimal_state) == [1.0, 3.0, 12.0, 2.0, 2.0, 1.3]

    class Broken(FormulationGame):
        def encode(self, state):
            return [math.nan] * 6 if state[0] == "lp" else [1.0]

    broken = Broken()
    assert broken.checked_encoding(("lp", "monomial", 2, "double", "scs", 1.0)) is None  # not finite
    assert broken.checked_encoding(game.optimal_state) is None  # wrong length
    assert Coin(rounds=1).checked_encoding(("H",)) is None  # no features: no encoding, and nothing logged


def test_a_game_without_moves_says_so():
    class Stuck(Coin):
        name = "stuck-test"

        def to_move(self, state):
            return Player.TERMINAL if state else Player.SEARCHER

    with pytest.raises(GameError, match="has no moves"):
        Stuck().random_completion((), np.random.default_rng(0))


def test_a_nan_constraint_value_counts_as_violated_wherever_it_stands():
    from discover.types import violated

    assert violated((math.nan, 1.0)) and violated((1.0, math.nan)) and violated((-1.0, math.nan))
    assert violated((-1.0, 0.5)) and not violated((-1.0, 0.0)) and not violated(())
