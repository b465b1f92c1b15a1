"""Fault injection: every fault a campaign can meet gives one line, a non-zero exit, and a database
that is unchanged or consistent. Each test names the fault it injects."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import discover
from discover import Campaign, Game, Outcome, Player
from discover.cli import app
from discover.errors import GameError
from discover.types import DEFAULT_TIMEOUT_SECONDS

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "discover.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 300), **kwargs)


def one_line(text, code, result_code, *fragments):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert result_code == code, text
    assert len(lines) == 1 and lines[0].startswith("error:"), text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in " ".join(text.split()), text


def one_line_error(result, *fragments, code=2):
    one_line(result.stderr or result.output, code, result.exit_code, *fragments)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def stored(tmp_path):
    db = tmp_path / "c.db"
    assert invoke("run", "toy-dice", "--budget", 12, "--backend", "inline", "--db", db).exit_code == 0
    return db


# -- two writers ------------------------------------------------------------------------------
def test_two_concurrent_resumes_spend_exactly_the_budget(tmp_path):
    db = tmp_path / "c.db"
    first = cli("run", "toy-formulation", "-p", "delay=0.05", "--budget", 10, "--workers", 2, "--db", db)
    assert first.returncode == 0, first.stderr
    runs = [subprocess.Popen([sys.executable, "-m", "discover.cli", "resume", str(db), "--budget", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    one_line(refused, 2, 2, "is being written by process", "wait for that campaign to finish")
    with discover.open(db) as store:
        keys = [e.state_key for e in store.evaluations()]
        assert len(keys) == 60 and len(set(keys)) == 60
        assert store.campaign().status == "finished"


# -- damaged, foreign and read-only databases ------------------------------------------------------
def test_a_damaged_database_gives_one_line_everywhere_and_stays_unchanged(stored):
    data = bytearray(stored.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page + 8:] = b"\x5a" * (len(data) - page - 8)  # every page after the first overwritten
    stored.write_bytes(bytes(data))
    before = digest(stored)
    for args in (["status"], ["best"], ["tree"], ["export", "--format", "json"], ["resume", "--add", 5]):
        result = invoke(args[0], stored, *args[1:])
        one_line_error(result)
        assert "damaged" in result.output or "not a discover" in result.output
    assert digest(stored) == before


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the commands as an unprivileged user (setpriv)")
def test_read_only_folder_and_file(stored):
    folder = Path(tempfile.mkdtemp(prefix="discover-ro-"))  # under /tmp, which everyone may enter
    try:
        check_read_only(shutil.copy(stored, folder / "c.db"))
    finally:
        shutil.rmtree(folder)


def check_read_only(stored):
    os.chmod(stored.parent, 0o755)
    os.chmod(stored, 0o644)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "discover.cli"]
    before = digest(stored)
    status = subprocess.run([*as_nobody, "status", str(stored)], capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "toy-dice" in status.stdout, status.stderr
    resume = subprocess.run([*as_nobody, "resume", str(stored), "--add", "3"], capture_output=True, text=True,
                            timeout=120)
    one_line(resume.stderr, 2, resume.returncode, "read-only", "copy it (with its -wal and -shm files)")
    assert digest(stored) == before
    # while a campaign (here: an open writer) has evaluations in its write-ahead log, a reader that
    # cannot use the WAL index says so rather than show stale numbers
    from discover.store import Store

    writer = Store.open(stored)
    try:
        for name in ("-wal", "-shm"):
            os.chmod(str(stored) + name, 0o644)
        stale = subprocess.run([*as_nobody, "status", str(stored)], capture_output=True, text=True, timeout=120)
        if stale.returncode != 0:  # SQLite may also read a read-only -shm; either way, no stale numbers
            one_line(stale.stderr, 2, stale.returncode, "latest evaluations are in")
    finally:
        writer.close()


# -- bad settings and bad input -------------------------------------------------------------------
@pytest.mark.parametrize("toml, fragment", [
    ('budget = 5\nworkers = "two"', "workers must be a positive integer"),
    ('budget = 5\nseed = "abc"', "seed must be a non-negative integer"),
    ('budget = 5\ntimeout = "1m"', "timeout must be a positive number of seconds"),
    ("budget = 5\nparams = 3", "[params] must be a table"),
    ("budget = 5\ncolour = 3", "unknown keys colour"),
    ('budget = 5\n[planner]\nrule = "best"', "planner rule must be one of"),
    ("budget = 5.5", "budget must be a positive integer"),
    ("budget = 5\nseed = 100000000000000000000000", "seed must be below 2**63"),
    ("budget = 5\ndb = 5", "db must be a file name"),
])
def test_settings_of_the_wrong_type_are_one_line(tmp_path, toml, fragment):
    config = tmp_path / "c.toml"
    config.write_text(toml)
    one_line_error(invoke("run", "toy-dice", "--config", config, "--db", tmp_path / "x.db"), fragment)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("options, fragment", [
    ({"workers": "two"}, "workers must be a positive integer"),
    ({"seed": "abc"}, "seed must be a non-negative integer"),
    ({"timeout": "1m"}, "timeout must be a positive number"),
    ({"params": 3}, "params must be a mapping"),
    ({"budgett": 3}, "unknown campaign setting budgett"),
])
def test_api_settings_of_the_wrong_type_are_refused(tmp_path, options, fragment):
    options = {"budget": 5, **options}
    with pytest.raises(discover.SettingsError, match=fragment):
        Campaign("toy-dice", db=tmp_path / "x.db", **options)


def test_export_into_a_missing_folder_or_onto_a_folder(stored, tmp_path):
    one_line_error(invoke("export", stored, "--format", "dot", "-o", tmp_path / "no" / "t.dot"), "does not exist")
    one_line_error(invoke("export", stored, "--format", "dot", "-o", tmp_path), "is a folder")


def test_inline_backend_refuses_a_timeout_and_the_default_is_printed(tmp_path):
    one_line_error(invoke("run", "toy-dice", "--budget", 3, "--backend", "inline", "--timeout", 5,
                          "--db", tmp_path / "x.db"), "cannot enforce a timeout")
    assert not (tmp_path / "x.db").exists()
    campaign = Campaign("toy-dice", budget=2, workers=1, db=tmp_path / "y.db")
    assert campaign.timeout == DEFAULT_TIMEOUT_SECONDS
    result = invoke("run", "toy-dice", "--budget", 2, "--workers", 1, "--db", tmp_path / "z.db")
    assert result.exit_code == 0 and f"per-evaluation timeout {DEFAULT_TIMEOUT_SECONDS:g} s (default" in result.output


def test_evaluations_are_told_their_time_limit(tmp_path):
    told = Campaign("toy-faulty", params={"faults": False}, budget=2, workers=1, timeout=7,
                    db=tmp_path / "a.db").run()
    assert {e.artifacts["timeout_seconds"] for e in told.history} == {7}
    game = discover.load_game("toy-faulty", faults=False)
    game.default_timeout = 11.0  # inline cannot enforce it, but the game is still told its own budget
    inline = Campaign(game, budget=2, backend="inline", db=tmp_path / "b.db").run()
    assert {e.artifacts["timeout_seconds"] for e in inline.history} == {11.0}


# -- broken games -----------------------------------------------------------------------------
@pytest.mark.parametrize("flaw, fragment", [
    ("no-moves", "no moves at non-terminal state"),
    ("unhashable", "unhashable"),
    ("bad-chance", "summing to 1"),
    ("batch-limit", "batch_limit must be a positive int"),
])
def test_a_game_that_breaks_the_protocol_is_refused_before_any_budget(tmp_path, flaw, fragment):
    one_line_error(invoke("run", "toy-broken", "-p", f"flaw={flaw}", "--budget", 5, "--db", tmp_path / "x.db"),
                   fragment)
    assert not (tmp_path / "x.db").exists()
    one_line_error(invoke("check", "toy-broken", "-p", f"flaw={flaw}"), fragment)


def test_an_evaluation_that_returns_a_bare_float_stops_the_campaign(tmp_path):
    db = tmp_path / "x.db"
    result = invoke("run", "toy-broken", "-p", "flaw=float-value", "--budget", 30, "--backend", "inline", "--db", db)
    assert result.exit_code == 1
    assert "error: stopped: the first 10 evaluations all failed the same way" in " ".join(result.output.split())
    assert "returned float" in result.output and "backed-up value" not in result.output
    assert "no evaluation succeeded" in result.output
    with discover.open(db) as store:
        info = store.campaign()
        assert store.count() == 10 and info.status == "failed" and "returned float" in info.reason
    one_line_error(invoke("check", "toy-broken", "-p", "flaw=float-value"), "returned float")
    ok = invoke("check", "toy-broken", "-p", "flaw=none")
    said = " ".join(ok.output.split())  # the console wraps long lines
    assert ok.exit_code == 0 and "played 20 random games" in said and "evaluated 3 of them" in said


class _DeadEndLater(Game):
    """Passes the light check, then a state deep in the search turns out to have no moves."""

    name = "dead-end-later"

    def __init__(self):
        self.calls = 0

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == 3 else Player.SEARCHER

    def actions(self, state):
        self.calls += 1
        return (0, 1, 2, 3) if self.calls < 40 else ()

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        return Outcome.ok(sum(state))


def test_a_crash_inside_the_run_is_stored_as_crashed_with_its_reason(tmp_path):
    db = tmp_path / "x.db"
    with pytest.raises(GameError, match="has no moves"):
        Campaign(_DeadEndLater(), budget=60, backend="inline", db=db).run()
    with discover.open(db) as store:
        info = store.campaign()
        assert info.status == "crashed" and "has no moves" in info.reason
        assert store.count() >= 1  # what finished before the crash is kept
    status = invoke("status", db)
    assert status.exit_code == 0 and "crashed: GameError" in " ".join(status.output.split())


# -- budgets, stopping, repeated runs ----------------------------------------------------------------
def test_budgets_at_or_below_what_is_done_are_refused(stored):
    before = digest(stored)
    for args in (["--budget", 12], ["--budget", 3], []):
        one_line_error(invoke("resume", stored, *args), "already has 12 evaluations")
    one_line_error(invoke("resume", stored, "--add", 0), "add must be a positive")
    one_line_error(invoke("resume", stored, "--add", 2, "--budget", 20), "not both")
    assert digest(stored) == before
    assert invoke("resume", stored, "--add", 3).exit_code == 0
    with discover.open(stored) as store:
        assert store.count() == 15


def test_run_twice_continues_and_stop_and_target_end_a_run(tmp_path):
    campaign = Campaign("toy-formulation", budget=6, backend="inline", db=tmp_path / "a.db")
    assert len(campaign.run().history) == 6
    again = campaign.run()  # the same campaign: its budget is spent
    assert len(again.history) == 6 and again.stopped == "budget"

    stopping = Campaign("toy-formulation", budget=50, backend="inline", db=tmp_path / "b.db")
    stopping.subscribe(lambda event: event.data.get("done") == 4 and stopping.stop())
    result = stopping.run()
    assert result.stopped == "stopped" and len(result.history) == 4

    reached = Campaign("toy-formulation", budget=200, backend="inline", db=tmp_path / "c.db", target=-1.0).run()
    assert reached.stopped == "target" and reached.best_value >= -1.0
    assert len(reached.history) < 200


def test_version_and_debug(tmp_path):
    assert invoke("--version").output.strip() == f"discover {discover.__version__}"
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent("""
        budget = 3
        backend = "inline"
    """))
    assert invoke("--debug", "run", "toy-dice", "--config", config, "--db", tmp_path / "x.db").exit_code == 0


@pytest.mark.slow  # 10 s end to end; the lock takeover itself is tested by default in test_store.py
def test_a_killed_writer_leaves_a_lock_that_resume_takes_over(tmp_path):
    db = tmp_path / "c.db"
    proc = subprocess.Popen([sys.executable, "-m", "discover.cli", "run", "toy-formulation", "-p", "delay=0.2",
                             "--budget", "30", "--workers", "1", "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            with discover.open(db) as store:
                if store.count() >= 3:
                    break
        except discover.StoreError:
            continue
    proc.kill()
    proc.wait(timeout=30)
    resumed = cli("resume", db)
    assert resumed.returncode == 0, resumed.stderr
    with discover.open(db) as store:
        assert store.count() == 30 and store.campaign().status == "finished"


# -- the planner with 2 workers on chance and opponent games (slow: 600 campaigns) ---------------------
def exact_value(game, state=None):
    state = game.initial_state() if state is None else state
    player = game.to_move(state)
    if player is Player.TERMINAL:
        return game.evaluate(state, None).value
    if player is Player.CHANCE:
        return sum(p * exact_value(game, game.apply(state, a)) for a, p in game.chance_outcomes(state))
    values = [exact_value(game, game.apply(state, a)) for a in game.actions(state)]
    return max(values) if player is Player.SEARCHER else min(values)


@pytest.mark.slow
@pytest.mark.parametrize("name, params, budget", [("toy-dice", {"faces": 100}, 40), ("toy-dice", {}, 60),
                                                  ("toy-minimax", {}, 100)])
def test_200_campaigns_with_2_workers_never_crash(tmp_path, name, params, budget):
    game = discover.load_game(name, **params)
    exact = exact_value(game)
    exhausted = 0
    for seed in range(200):
        result = Campaign(game, budget=budget, workers=2, seed=seed, db=tmp_path / f"{seed}.db").run()
        keys = [e.state_key for e in result.history]
        assert len(keys) == len(set(keys)) and all(e.status == "ok" for e in result.history)
        if result.stopped == "exhausted":
            exhausted += 1
            assert result.root_value == pytest.approx(exact, abs=1e-12)
        else:
            assert result.stopped == "budget" and len(keys) == budget
    assert exhausted == (0 if params.get("faces") == 100 else 200)


def test_resume_keeps_what_the_campaign_started_with(tmp_path):
    db = tmp_path / "t.db"
    reached = Campaign("toy-dice", budget=20, backend="inline", target=0.1, db=db).run()
    assert reached.stopped == "target"
    with pytest.raises(discover.SettingsError, match="already reached its target"):
        Campaign.resume(db, add=5)
    more = Campaign.resume(db, add=5, target=10.0).run()  # a higher target continues it
    assert len(more.history) == len(reached.history) + 5
    with discover.open(db) as store:
        stored = store.campaign().settings
    assert stored["surrogate"] == "none" and stored["planner"]["rule"] == "uct"  # defaults written down
    with pytest.raises(discover.SettingsError, match="cannot change on resume"):
        Campaign.resume(db, add=1, surrogate="gp")


def test_check_runs_evaluations_in_a_worker_killed_at_its_timeout():
    hung = cli("check", "toy-faulty", "-p", "size=10", "-p", "hang_seconds=600", "--timeout", "2", timeout=120)
    one_line(hung.stderr, 2, hung.returncode, "game 'toy-faulty': evaluating")
    assert "Traceback" not in hung.stdout
