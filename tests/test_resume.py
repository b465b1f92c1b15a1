"""Crash safety: a campaign killed with SIGKILL resumes with nothing lost and nothing repeated."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

import discover
from discover.campaign import Campaign
from discover.cli import app
from discover.game import upgraded_history
from discover.methods import make_estimator
from discover.planner import Planner
from conftest import stored_count


def discover_cmd(*args):
    return [sys.executable, "-m", "discover.cli", *args]


# the gp variant (~30 s) runs with -m slow: the kill and resume are the none variant's, and a GP
# campaign resumed from its store is test_surrogates' resume tests
@pytest.mark.parametrize("surrogate", ["none", pytest.param("gp", marks=pytest.mark.slow)])
def test_sigkill_mid_run_then_resume_finishes_exactly_the_budget(tmp_path, surrogate):
    db = tmp_path / "crash.db"
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        discover_cmd("run", "toy-formulation", "-p", "delay=0.1", "--budget", "40", "--workers", "2",
                     "--db", str(db), "--seed", "3", "--surrogate", surrogate),
        stdout=log, stderr=subprocess.STDOUT,
    )
    count = stored_count(db, 12)
    # the inspection commands read the database while the campaign writes it
    reading = CliRunner().invoke(app, ["status", str(db)])
    assert reading.exit_code == 0 and "toy-formulation" in reading.output
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    log.close()
    assert proc.returncode == -signal.SIGKILL
    assert 12 <= count < 40

    printed = re.findall(r"^\[\d+/40\] (.+?)  (?:value=|infeasible)", (tmp_path / "run.log").read_text(), re.M)
    with discover.open(db) as store:
        before = {e.state_key: e for e in store.evaluations()}
        assert store.campaign().status == "running"  # it never got to say otherwise
    assert printed and set(printed) <= {e.label for e in before.values()}, "a reported evaluation was lost"

    resumed = subprocess.run(discover_cmd("resume", str(db)), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    with discover.open(db) as store:
        after = store.evaluations()
        assert store.campaign().status == "finished"
        assert store.campaign().settings["surrogate"] == surrogate
    keys = [e.state_key for e in after]
    assert len(after) == 40 and len(set(keys)) == 40
    for key, e in before.items():  # nothing finished before the kill was lost or changed
        again = next(a for a in after if a.state_key == key)
        assert (again.id, again.value, again.status) == (e.id, e.value, e.status)


def test_resume_extends_budget_and_restores_tree(tmp_path):
    db = tmp_path / "c.db"
    first = Campaign("toy-formulation", budget=25, seed=1, db=db, backend="inline").run()
    assert len(first.history) == 25
    for spent in ({}, {"budget": 25}, {"budget": 10}):  # a budget at or below what is done is refused
        with pytest.raises(discover.SettingsError, match="already has 25 evaluations"):
            Campaign.resume(db, **spent)
    more = Campaign.resume(db, budget=40).run()
    assert len(more.history) == 40
    more = Campaign.resume(db, add=10).run()
    assert len(more.history) == 50
    assert len({e.state_key for e in more.history}) == 50
    with discover.open(db) as store:
        planner = Planner(discover.load_game("toy-formulation"))
        planner.replay(store.history())
        planner.restore_tree(*store.tree(states=True))
    assert planner.root.visits >= 50  # every evaluation (and reuse of one) passed through the root
    assert planner.root_value() == max(v for v in planner.evaluated.values() if v is not None)


def test_same_seed_inline_gives_the_same_campaign(run_campaign):
    a = run_campaign("toy-formulation", budget=40, seed=11, backend="inline")
    b = run_campaign("toy-formulation", budget=40, seed=11, backend="inline")
    c = run_campaign("toy-formulation", budget=40, seed=12, backend="inline")
    trace = lambda r: [(e.state_key, e.value, e.status) for e in r.history]  # noqa: E731
    assert trace(a) == trace(b)
    assert trace(a) != trace(c)


def test_time_limit_stops_and_cancels_in_flight(tmp_path):
    tick = time.monotonic()
    result = Campaign("toy-faulty", params={"faults": False, "delay": 0.4, "size": 200}, time_limit=2.0,
                      db=tmp_path / "t.db", backend="process", workers=2).run()
    assert result.stopped == "time"
    assert time.monotonic() - tick < 15
    assert 2 <= len(result.history) <= 12
    assert all(e.status == "ok" for e in result.history)


def test_events_are_stored_and_streamed(run_campaign, tmp_path):
    seen = []
    campaign = Campaign("toy-formulation", budget=10, db=tmp_path / "e.db", backend="inline")
    campaign.subscribe(lambda ev: seen.append(ev.kind.value))
    campaign.run()
    with discover.open(tmp_path / "e.db") as store:
        stored = [kind for _, _, kind, _ in store.events()]
    assert stored == seen
    assert seen[0] == "campaign_started" and seen[-1] == "campaign_finished"
    assert seen.count("evaluation_started") == 10
    assert seen.count("evaluation_finished") + seen.count("evaluation_failed") == 10
    assert seen.count("new_best") >= 1


def test_killed_workers_do_not_outlive_the_campaign(tmp_path):
    db = tmp_path / "orphans.db"
    proc = subprocess.Popen(
        discover_cmd("run", "toy-faulty", "-p", "faults=false", "-p", "delay=30", "--budget", "4",
                     "--workers", "2", "--db", str(db)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(4)
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                text=True).stdout.split()]
    assert children, "expected worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(3)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and
             "Z" not in open(f"/proc/{pid}/stat").read().split()[2]]
    assert not alive, f"workers {alive} outlived their campaign"


@pytest.mark.slow
def test_twenty_kills_at_random_instants_lose_and_repeat_nothing(tmp_path):
    """kill -9 twenty times at random instants (also during start-up and shutdown), resuming each
    time: every evaluation stored before a kill is still there, unchanged, and none is repeated."""
    db = tmp_path / "kills.db"
    rng = random.Random(7)
    seen = {}
    for _ in range(20):
        args = (("run", "toy-formulation", "-p", "delay=0.1", "--budget", "400", "--workers", "2",
                 "--db", str(db), "--seed", "5") if not db.exists() else ("resume", str(db)))
        proc = subprocess.Popen(discover_cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if not db.exists():
            continue
        with discover.open(db) as store:
            now = {e.state_key: (e.id, e.value, e.status) for e in store.evaluations()}
        assert all(now.get(k) == v for k, v in seen.items()), "an evaluation stored before a kill changed or vanished"
        seen = now
    assert 0 < len(seen) < 400, "the kills should land while the campaign runs"
    finished = subprocess.run(discover_cmd("resume", str(db)), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    with discover.open(db) as store:
        final = store.evaluations()
        assert store.campaign().status == "finished"
    assert len(final) == 400 and len({e.state_key for e in final}) == 400
    assert all({e.state_key: (e.id, e.value, e.status) for e in final}.get(k) == v for k, v in seen.items())


def test_a_game_that_adds_a_move_resumes_its_stored_campaign(tmp_path):
    """A new slot after the old ones plus ``upgrade_state``: the stored evaluations reach the GP in
    today's form (an old-length state would not encode), stored rows stay as they were, and none
    of them is evaluated again."""
    from discover.types import Interval, Outcome
    from games.slots import Slot, SlotGame

    class Before(SlotGame):
        name = "growing"
        expensive = True
        slots = (Slot("family", ("a", "b", "c")), Slot("x", interval=Interval(0.0, 1.0)))

        def evaluate(self, state, context):
            family, x, *rest = state
            scale = rest[0] if rest else 1.0
            return Outcome.ok(-(x - 0.3) ** 2 - (scale - 1.2) ** 2 - 0.1 * "abc".index(family))

    class After(Before):
        slots = (*Before.slots, Slot("scale", interval=Interval(0.5, 2.0)))

        def upgrade_state(self, state):
            return (*state, 1.0) if len(state) == 2 else state

    db = tmp_path / "grow.db"
    Campaign(Before(), budget=6, seed=2, db=db, backend="inline", surrogate="gp").run()
    with discover.open(db) as store:
        before = {e.id: (e.state_key, e.value) for e in store.evaluations()}
    more = Campaign.resume(db, add=3, game=After()).run()
    assert len(more.history) == 9
    with discover.open(db) as store:
        rows = store.history()
    assert {r.id: (r.state_key, r.value) for r in rows if r.id in before} == before  # never rewritten
    old = {After().state_key((*r.state, 1.0)) for r in rows if len(r.state) == 2}
    new = [r for r in rows if r.id not in before]
    assert len(old) == 6 and all(len(r.state) == 3 for r in new)
    assert not old & {r.state_key for r in new}  # an old formulation is never evaluated again
    game = After()  # the GP learns all 9 (an old-length state would not encode: it would learn 3)
    model = make_estimator("gp", game, seed=0)
    for record in upgraded_history(game, rows):
        model.observe(game, record.state, record.outcome())
    assert len(model.calibration(game)) == 9
