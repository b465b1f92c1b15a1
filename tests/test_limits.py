"""A kind of formulation that keeps failing gets a shorter time limit (discover.limits)."""

import discover
from discover import limits
from discover.limits import KindLimits
from discover.types import EventKind, Outcome, Status
from games.slots import Slot, SlotGame


class Stubborn(SlotGame):
    """The 'stuck' solver always runs out of time (reporting the limit it was told); 'works' takes 1 s."""

    name = "stubborn-test"
    slots = (Slot("solver", ("works", "stuck")), Slot("size", (1, 2, 3, 4, 5, 6)))
    default_timeout = 30.0

    def __init__(self):
        self.told = []

    def evaluate(self, state, context):
        self.told.append((state, context.timeout_seconds))
        if state[0] == "stuck":
            return Outcome.failure(Status.TIMEOUT, "ran out of time", context.timeout_seconds)
        return Outcome.ok(float(state[1]), cost_seconds=1.0)


def _expected(told):
    """The limits the rule gives, recomputed from the order of evaluations."""
    failed = ok = 0
    out = []
    for state, _ in told:
        stuck = state[0] == "stuck"
        shortened = stuck and failed >= limits.FAILURES and ok > 0
        out.append(max(limits.FLOOR_SECONDS, limits.MULTIPLE * 1.0) if shortened else 30.0)
        failed += stuck
        ok += not stuck
    return out


def test_a_kind_that_keeps_failing_is_given_a_shorter_limit(tmp_path):
    game = Stubborn()
    events = []
    campaign = discover.Campaign(game, budget=12, backend="inline", surrogate="none", seed=1, db=tmp_path / "s.db")
    campaign.subscribe(events.append)
    result = campaign.run()
    limits_told = [limit for _, limit in game.told]
    assert limits_told == _expected(game.told) and min(limits_told) == limits.FLOOR_SECONDS  # some were shortened
    shortened = [e for e in result.history if "limit shortened" in e.message]
    assert len(shortened) == limits_told.count(limits.FLOOR_SECONDS)
    assert all(e.status == Status.TIMEOUT.value and "solver" in e.message for e in shortened)
    started = [e.data for e in events if e.kind is EventKind.EVALUATION_STARTED and "limit" in e.data]
    assert len(started) == len(shortened) and all("all failed" in d["why"] for d in started)


def test_the_counts_survive_a_resume(tmp_path):
    first, again = Stubborn(), Stubborn()
    db = tmp_path / "r.db"
    discover.Campaign(first, budget=6, backend="inline", surrogate="none", seed=1, db=db).run()
    discover.Campaign.resume(db, budget=12, game=again).run()
    told = first.told + again.told
    assert [limit for _, limit in told] == _expected(told)  # the resumed run counts what came before
    assert [limit for _, limit in again.told] != [30.0] * 6


def test_one_success_restores_the_full_limit_and_nothing_is_shortened_before_a_success():
    game = Stubborn()
    kinds = KindLimits(game)
    for size in (1, 2, 3):
        kinds.add(("stuck", size), Outcome.failure(Status.TIMEOUT, "out of time", 30.0))
    assert kinds.limit(("stuck", 4), 30.0) == (30.0, "")  # no success yet to say what is typical
    kinds.add(("works", 1), Outcome.ok(1.0, cost_seconds=4.0))
    assert kinds.limit(("stuck", 4), 30.0)[0] == 8.0  # twice the median success
    kinds.add(("stuck", 5), Outcome.ok(1.0, cost_seconds=4.0))
    assert kinds.limit(("stuck", 4), 30.0) == (30.0, "")
