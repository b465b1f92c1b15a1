"""Writing a game in a script: choose a polynomial's coefficients one by one to fit a target.

Run it twice: the second run resumes the stored campaign and adds 40 evaluations.
"""

from pathlib import Path

import numpy as np

import discover
from discover import EvalContext, Game, Interval, Outcome, Param, Player, register_game


@register_game
class PolyFit(Game):
    """Pick 3 coefficients of a quadratic; value: minus the squared error against sin on [0, 1]."""

    name = "poly-fit"
    params = (Param("points", "int", 50, "sample points of the target"),)

    def __init__(self, points: int = 50) -> None:
        self.points = points  # declared parameters are kept as attributes of the same name

    def initial_state(self):
        return ()  # states are immutable and hashable: tuples of the choices so far

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 3 else Player.SEARCHER

    def actions(self, state):
        return Interval(-2.0, 2.0)  # a continuous move: the planner widens progressively

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context: EvalContext) -> Outcome:
        x = np.linspace(0, 1, self.points)
        error = float(np.mean((np.polyval(state[::-1], x) - np.sin(3 * x)) ** 2))
        return Outcome.ok(-error, {"coefficients": list(state)})


if __name__ == "__main__":
    db = Path("polyfit.db")
    if db.exists():
        with discover.open(db) as store:
            done = store.count()
        campaign = discover.Campaign.resume(db, budget=done + 40)
    else:
        campaign = discover.Campaign("poly-fit", budget=120, seed=1, db=db, workers=2)
    result = campaign.run()
    print(f"{len(result.history)} evaluations; best squared error {-result.best_value:.5f}")
    print("coefficients", result.best[0].artifacts["coefficients"])
