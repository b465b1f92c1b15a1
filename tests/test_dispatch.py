"""Backends: failures of every kind become recorded outcomes; devices are assigned per job."""

import time

import pytest

from discover.dispatch import InlineBackend, ProcessBackend, make_backend
from discover.errors import SettingsError
from discover.game import load_game
from discover.types import Job, Resources, Status


def run_jobs(backend, game, indices, timeout=None):
    backend.start(game)
    try:
        futures = {i: backend.submit(Job(i, (i,), game.resources((i,)), timeout_seconds=timeout)) for i in indices}
        return {i: f.result(timeout=60) for i, f in futures.items()}
    finally:
        backend.close()


def test_process_backend_turns_every_failure_into_a_status():
    game = load_game("toy-faulty", hang_seconds=60)
    results = run_jobs(ProcessBackend(2), game, [0, 1, 3, 5, 7, 8, 9, 11], timeout=3)
    status = {i: r.outcome.status for i, r in results.items()}
    assert status == {0: Status.OK, 1: Status.OK, 3: Status.FAILED, 5: Status.FAILED, 7: Status.TIMEOUT,
                      8: Status.FAILED, 9: Status.FAILED, 11: Status.OK}
    assert "raised on purpose" in results[3].outcome.message
    assert "non-finite" in results[5].outcome.message
    assert "SIGSEGV" in results[8].outcome.message
    assert "exit code 3" in results[9].outcome.message
    assert results[7].outcome.cost_seconds >= 3
    assert results[11].outcome.value == pytest.approx(11 / 20)


def test_timeout_really_kills_the_worker():
    game = load_game("toy-faulty", hang_seconds=600)
    backend = ProcessBackend(1)
    backend.start(game)
    try:
        tick = time.monotonic()
        hung = backend.submit(Job(0, (7,), timeout_seconds=1)).result(timeout=30)
        after = backend.submit(Job(1, (2,))).result(timeout=30)  # the replacement worker takes the next job
        assert hung.outcome.status is Status.TIMEOUT
        assert after.outcome.status is Status.OK and after.worker != hung.worker
        assert time.monotonic() - tick < 20
    finally:
        backend.close()


def test_gpu_jobs_are_pinned_to_one_device_each():
    game = load_game("toy-faulty", faults=False, gpus=1, delay=0.3)
    results = run_jobs(ProcessBackend(2, gpus=["3", "5"]), game, [0, 1, 2, 4])
    seen = {r.outcome.artifacts["cuda_visible_devices"] for r in results.values()}
    assert seen == {"3", "5"}
    assert all(r.device == "cuda" and r.outcome.artifacts["device"] == "cuda" for r in results.values())


def test_gpu_jobs_fall_back_to_cpu_without_gpus():
    game = load_game("toy-faulty", faults=False, gpus=1)
    results = run_jobs(ProcessBackend(1, gpus=[]), game, [0, 1])
    assert all(r.device == "cpu" and r.outcome.artifacts["cuda_visible_devices"] == "" for r in results.values())


def test_inline_backend_records_exceptions():
    game = load_game("toy-faulty")
    backend = InlineBackend()
    backend.start(game)
    assert backend.submit(Job(0, (3,))).result().outcome.status is Status.FAILED
    assert backend.submit(Job(1, (5,))).result().outcome.status is Status.FAILED
    assert backend.submit(Job(2, (4,))).result().outcome.value == pytest.approx(0.2)


def test_campaign_completes_its_budget_through_failures(run_campaign):
    result = run_campaign("toy-faulty", params={"hang_seconds": 60}, budget=20, backend="process", workers=2, timeout=2)
    assert len(result.history) == 20
    by_index = {e.label: e.status for e in result.history}
    assert by_index["(7,)"] == "timeout"
    assert by_index["(8,)"] == by_index["(9,)"] == by_index["(3,)"] == by_index["(5,)"] == "failed"
    assert sum(s == "ok" for s in by_index.values()) == 20 - 2 * 5
    assert result.best_value == pytest.approx(16 / 20)  # 17, 18, 19 hang, segfault, exit


def test_bad_backend_settings_are_refused():
    with pytest.raises(SettingsError, match="unknown backend"):
        make_backend("carrier-pigeon")
    with pytest.raises(SettingsError, match="workers"):
        make_backend("process", workers=0)
    with pytest.raises(SettingsError, match="inline"):
        make_backend("inline", workers=4)


def test_resources_default():
    assert load_game("toy-formulation").resources(("lp", 2, "double", 1.0)) == Resources()
