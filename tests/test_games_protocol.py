"""Every registered game passes the shared protocol checks on a cheap instance."""

import pytest

from discover.game import available_games, load_game
from games.testing import check_game

CHEAP = {"toy-faulty": {"faults": False}}


@pytest.mark.parametrize("name", sorted(available_games()))
def test_registered_game_follows_protocol(name):
    game = load_game(name, **CHEAP.get(name, {}))
    terminals = check_game(game, playouts=10)
    assert terminals
