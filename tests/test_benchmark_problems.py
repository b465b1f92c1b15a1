"""The published benchmark problems of benchmarks/problems.py reproduce their published optima."""

import sys
from pathlib import Path

import pytest

from discover.check import check_game
from discover.types import EvalContext, Status

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from problems import PUBLISHED, Gramacy, PressureVessel  # noqa: E402


@pytest.mark.parametrize("cls", PUBLISHED, ids=lambda c: c.name)
def test_the_published_minimiser_gives_the_published_optimum(cls):
    game = cls()
    outcome = game.evaluate(cls.optimal_state, EvalContext())
    assert outcome.status is Status.OK
    assert outcome.value == pytest.approx(cls.optimum, rel=2e-4)


@pytest.mark.parametrize("cls", PUBLISHED, ids=lambda c: c.name)
def test_each_problem_passes_the_game_checks(cls):
    terminals = check_game(cls(), playouts=20)  # raises a GameError on a protocol violation
    assert len(terminals) == 20


def test_constraints_reject_infeasible_points_and_are_reported():
    outcome = Gramacy().evaluate((0.1, 0.1), EvalContext())
    assert outcome.status is Status.INFEASIBLE and outcome.constraints[0] > 0 > outcome.constraints[1]  # c1 > 0
    assert max(Gramacy().evaluate(Gramacy.optimal_state, EvalContext()).constraints) <= 1e-5
    # a shell thinner than 0.0193 R violates the first constraint
    assert PressureVessel().evaluate((0.0625, 0.4375, 42.0, 176.0), EvalContext()).status is Status.INFEASIBLE
