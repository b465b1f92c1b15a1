"""Every registered game passes the shared protocol checks on a cheap instance."""

import pytest

from discover.check import check_game
from discover.game import available_games, load_game
from discover.types import Player

CHEAP = {"toy-faulty": {"faults": False}, "sphere-packing": {"dimension": 2, "max_degree": 7},
         "small-gain-nash": {"bo_budget": 8}, "toy-broken": {"flaw": "none"},
         "sphere-packing-3pt": {"dimension": 3, "max_kernel_degree": 6},
         "feature-guided": {"model": "demo-cnn"}}  # its certified radius needs no SDP
# games whose random formulations may fail by design or take seconds; their own tests evaluate
# chosen formulations, failing ones included
NOT_EVALUATED_AT_RANDOM = {"sphere-packing", "lipsdp", "sphere-packing-3pt"}  # the last: minutes each


@pytest.mark.parametrize("name", sorted(available_games()))
def test_registered_game_follows_protocol(name):
    game = load_game(name, **CHEAP.get(name, {}))
    terminals = check_game(game, playouts=10, evaluate=name not in NOT_EVALUATED_AT_RANDOM)
    assert len(terminals) == 10 and all(game.to_move(t) is Player.TERMINAL for t in terminals)
