"""Backends: failures of every kind become recorded outcomes; devices are assigned per job."""

import multiprocessing
import time

import pytest

from discover import Campaign
from discover.dispatch import InlineBackend, ProcessBackend, make_backend, run_batch
from discover.errors import SettingsError
from discover.game import load_game
from discover.types import Job, Outcome, Resources, Status


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


@pytest.mark.parametrize("backend", ["inline", "process"])
def test_a_batched_game_gets_its_leaves_in_batches_and_every_one_is_recorded(run_campaign, backend):
    workers = 1 if backend == "inline" else 2
    result = run_campaign("toy-faulty", params={"faults": False, "batch": 4, "size": 40}, budget=24,
                          backend=backend, workers=workers, surrogate="none")
    assert len(result.history) == 24 and len({e.state_key for e in result.history}) == 24
    sizes = [e.artifacts["batch"] for e in result.history]
    assert max(sizes) == 4 and min(sizes) >= 1  # the planner was asked for several leaves at once
    assert all(e.value == pytest.approx(int(e.label.strip("(,)")) / 40) for e in result.history)


def test_a_failing_batch_fails_each_of_its_jobs_and_the_campaign_goes_on(run_campaign):
    """A batch is one call: an index that hangs times the batch out, one that kills the worker
    fails the batch; every job is recorded with the reason and the budget is spent."""
    result = run_campaign("toy-faulty", params={"hang_seconds": 60, "batch": 3}, budget=20, backend="process",
                          workers=2, timeout=2, surrogate="none")
    assert len(result.history) == 20
    status = {int(e.label.strip("(,)")): e for e in result.history}
    assert status[7].status == "timeout" and "limit" in status[7].message
    assert status[9].status == "failed"
    batchmates = [e for e in result.history if e.status == "timeout"]
    assert len(batchmates) >= 2  # the hanging index took the rest of its batch with it
    assert any(e.status == "ok" for e in result.history)


def test_evaluate_batch_must_give_one_outcome_per_state():
    class Short(type(load_game("toy-faulty"))):
        def evaluate_batch(self, states, context):
            return [Outcome.ok(1.0)]

    game = Short(faults=False)
    results = run_batch(game, [Job(0, (0,)), Job(1, (1,))], worker="w", device="cpu")
    assert [r.outcome.status for r in results] == [Status.FAILED, Status.FAILED]
    assert "returned 1 outcomes for 2 states" in results[0].outcome.message


def test_a_campaign_run_again_starts_its_process_pool_again(tmp_path):
    campaign = Campaign("toy-faulty", params={"faults": False}, budget=8, workers=2, db=tmp_path / "again.db",
                        surrogate="none")
    campaign.subscribe(lambda event: event.kind.value == "evaluation_finished" and event.data["done"] == 3
                       and campaign.stop())
    assert campaign.run().stopped == "stopped"
    result = campaign.run()
    assert result.stopped in ("budget", "exhausted") and len(result.history) == 8
    assert all(e.status == "ok" for e in result.history)
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children(), "the second run's workers outlived it"
