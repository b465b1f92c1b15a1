"""The command line: a tour of the commands, and one clear line for every kind of bad input."""

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

import discover
from discover.cli import app
from conftest import stored_count

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    text = result.stderr if result.stderr else result.output
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), text
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(text.split()), text


@pytest.fixture
def stored(tmp_path):
    db = tmp_path / "c.db"
    result = invoke("run", "toy-formulation", "--budget", 15, "--backend", "inline", "--db", db, "--seed", 2)
    assert result.exit_code == 0, result.output
    return db


def fingerprint(db):
    with discover.open(db) as store:
        rows = [(e.id, e.state_key, e.value, e.status) for e in store.evaluations()]
    return hashlib.sha1(repr(rows).encode()).hexdigest()


def test_tour(stored, tmp_path):
    assert "toy-formulation" in invoke("games").output
    status = invoke("status", stored)
    assert status.exit_code == 0 and "15 / 15" in status.output
    tree = invoke("tree", stored, "--depth", 1, "--top", 2)
    assert tree.exit_code == 0 and "visits=15" in tree.output
    best = invoke("best", stored, "--json")
    assert best.exit_code == 0 and '"artifacts"' in best.output
    for fmt in ("json", "graphml", "dot"):
        out = tmp_path / f"tree.{fmt}"
        assert invoke("export", stored, "--format", fmt, "-o", out).exit_code == 0
        assert out.stat().st_size > 0
    failures = invoke("failures", stored)
    assert failures.exit_code == 0 and ("not ok:" in failures.output or "every evaluation succeeded" in failures.output)
    figure = tmp_path / "runs.svg"
    assert invoke("plot", stored, stored, "-o", figure, "-l", "a", "-l", "b").exit_code == 0
    assert figure.read_text().lstrip().startswith("<?xml")
    resumed = invoke("resume", stored, "--budget", 20)
    assert resumed.exit_code == 0 and "after 20 evaluations" in resumed.output


def test_status_watch_follows_a_running_campaign_to_its_end(tmp_path):
    db = tmp_path / "w.db"
    run = subprocess.Popen([sys.executable, "-m", "discover.cli", "run", "toy-faulty", "-p", "faults=false",
                            "-p", "delay=0.3", "--budget", "12", "--workers", "2", "--db", str(db), "--surrogate", "none"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        watched = subprocess.run([sys.executable, "-m", "discover.cli", "status", str(db), "--watch"],
                                 capture_output=True, text=True, timeout=120)
    finally:
        run.wait(timeout=60)
    assert watched.returncode == 0, watched.stderr
    assert "the campaign is finished" in watched.stdout
    assert "12 / 12" in watched.stdout and "best value" in watched.stdout


def test_status_watch_of_a_killed_campaign_ends_and_says_so(tmp_path):
    import signal

    db = tmp_path / "k.db"
    run = subprocess.Popen([sys.executable, "-m", "discover.cli", "run", "toy-faulty", "-p", "faults=false",
                            "-p", "delay=5", "--budget", "12", "--workers", "2", "--db", str(db), "--surrogate", "none"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    watched = subprocess.run([sys.executable, "-m", "discover.cli", "status", str(db), "--watch"],
                             capture_output=True, text=True, timeout=60)
    assert watched.returncode == 0 and "the campaign is abandoned (its process is gone: resume it)" in watched.stdout
    plain = invoke("status", db)
    assert plain.exit_code == 0 and "it was killed" in " ".join(plain.output.split())


def test_failures_groups_messages_by_kind(tmp_path):
    db = tmp_path / "f.db"
    ran = invoke("run", "toy-faulty", "-p", "size=8", "-p", "hang_seconds=0", "--budget", 8, "--backend", "process",
                 "--workers", 2, "--db", db, "--surrogate", "none", "--fail-fast", 0)
    assert ran.exit_code == 0, ran.output
    shown = invoke("failures", db)
    assert shown.exit_code == 0
    assert "2 not ok: 2 failed" in shown.output and "RuntimeError" in shown.output  # raise, and NaN: two kinds
    assert shown.output.count("│ failed │ 1 ") == 2


def test_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent("""
        budget = 7
        backend = "inline"
        seed = 4
        [params]
        delay = 0.0
    """))
    db = tmp_path / "cfg.db"
    result = invoke("run", "toy-formulation", "--config", config, "--db", db)
    assert result.exit_code == 0, result.output
    with discover.open(db) as store:
        assert store.count() == 7 and store.campaign().seed == 4


@pytest.mark.parametrize("args, fragments", [
    (["run", "no-such-game", "--budget", 3], ["unknown game 'no-such-game'", "toy-formulation"]),
    (["run", "toy-formulation", "--budget", 0], ["budget must be a positive"]),
    (["run", "toy-formulation", "--budget", -4], ["budget must be a positive"]),
    (["run", "toy-formulation"], ["--budget"]),
    (["run", "toy-formulation", "--budget", 3, "-p", "delay=slow"], ["'delay' expects float"]),
    (["run", "toy-formulation", "--budget", 3, "-p", "colour=red"], ["no parameter 'colour'"]),
    (["run", "toy-formulation", "--budget", 3, "-p", "delay"], ["NAME=VALUE"]),
    (["run", "toy-formulation", "--budget", 3, "-p", "delay=-1"], ["delay must be >= 0"]),
    (["run", "toy-formulation", "--budget", 3, "--backend", "gpu-cloud"], ["unknown backend"]),
    (["run", "toy-formulation", "--budget", 3, "--config", "/nonexistent.toml"], ["does not exist"]),
    (["status", "/nonexistent/c.db"], ["no campaign database"]),
    (["resume", "/nonexistent/c.db"], ["no campaign database"]),
])
def test_bad_input_gives_one_clear_line(tmp_path, args, fragments):
    result = invoke(*args, *(["--db", tmp_path / "new.db"] if args[0] == "run" else []))
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "new.db").exists()


def test_corrupted_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    for command in ("status", "tree", "best", "resume"):
        assert_one_line_error(invoke(command, bad), "not a discover campaign database")
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_bad_input_never_damages_a_stored_campaign(stored):
    before = fingerprint(stored)
    assert_one_line_error(invoke("run", "toy-formulation", "--budget", 3, "--db", stored), "already exists")
    assert_one_line_error(invoke("resume", stored, "--budget", 0), "budget must be a positive")
    assert_one_line_error(invoke("export", stored, "--format", "pdf"), "unknown format")
    assert_one_line_error(invoke("resume", stored, "--backend", "nope"), "unknown backend")
    assert fingerprint(stored) == before


def test_newer_schema_is_refused(stored):
    import sqlite3

    conn = sqlite3.connect(stored)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert_one_line_error(invoke("status", stored), "newer discover")


def test_plugin_that_fails_to_import(tmp_path):
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[discover.games]\nbroken-game = no_such_module_xyz:Game\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "discover.cli", "run", "broken-game", "--budget", "2",
                          "--db", str(tmp_path / "x.db")], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken-game" in lines[0] and "No module named 'no_such_module_xyz'" in lines[0]
    assert "Traceback" not in run.stderr + run.stdout
    listing = subprocess.run([sys.executable, "-m", "discover.cli", "games"], capture_output=True, text=True,
                             env={**env, "COLUMNS": "250"}, timeout=60)
    assert listing.returncode == 0 and "broken" in listing.stdout and "toy-formulation" in listing.stdout


@pytest.mark.parametrize("game", ["toy-minimax", "toy-dice"])
def test_a_plugin_without_features_runs_with_the_gp_surrogate(tmp_path, game):
    db = tmp_path / "plain.db"
    result = invoke("run", game, "--surrogate", "gp", "--budget", "12", "--backend", "inline", "--db", str(db))
    assert result.exit_code == 0, result.output
    with discover.open(db) as store:
        assert store.count() == 12 and store.campaign().settings["surrogate"] == "gp"


def test_ctrl_c_stops_cleanly_with_one_line(tmp_path):
    """Ctrl-C at a terminal signals the whole foreground process group, workers included: the
    campaign says how to continue, and no worker prints a traceback over it."""
    import os
    import signal

    db = tmp_path / "c.db"
    proc = subprocess.Popen([sys.executable, "-m", "discover.cli", "run", "toy-faulty", "-p", "faults=false",
                             "-p", "delay=2", "--budget", "20", "--workers", "2", "--db", str(db), "--surrogate", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # as at a terminal: a test run started in the background inherits SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stored_count(db, 2, timeout=60)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == f"error: interrupted; continue with `discover resume {db}`", err
    assert "Traceback" not in out + err


def test_verify_rechecks_stored_certificates_without_writing(tmp_path):
    db = tmp_path / "s.db"
    assert invoke("run", "small-gain-nash", "-p", "bo_budget=4", "--budget", 2, "--backend", "inline", "--db", db).exit_code == 0
    before = fingerprint(db)
    checked = invoke("verify", db)
    assert checked.exit_code == 0 and "holds" in checked.output and "re-checked certificates hold" in checked.output
    with sqlite3.connect(db) as conn:  # a stored value above what its certificate proves
        conn.execute("UPDATE evaluations SET value = value + 0.1 WHERE status = 'ok'")
    forged = fingerprint(db)
    refused = invoke("verify", db, "--all")
    assert refused.exit_code == 1 and "DOES NOT HOLD" in refused.output and "exceeds the certificate" in refused.output
    assert fingerprint(db) == forged != before  # read only
    trusting = tmp_path / "t.db"
    assert invoke("run", "toy-formulation", "--budget", 3, "--backend", "inline", "--db", trusting).exit_code == 0
    assert invoke("verify", trusting).exit_code == 1  # no verify of its own: nothing is claimed re-checked
