"""Small games with known answers, that make the engine testable and demonstrable."""

from games.toy.dice import DiceGame
from games.toy.faulty import FaultyGame
from games.toy.formulation import FormulationGame
from games.toy.minimax import MinimaxGame

__all__ = ["DiceGame", "FaultyGame", "FormulationGame", "MinimaxGame"]
