"""The Ray backend on a real local Ray cluster: a head node (one CPU and one GPU slot) and a worker
node (one CPU), started with ``ray start`` as a user would. No GPU is used: Ray only counts the slot,
and sets CUDA_VISIBLE_DEVICES for the tasks that hold it."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

import discover  # noqa: E402
from discover import Campaign, Status  # noqa: E402
from discover.dispatch.ray_backend import RayBackend, offload  # noqa: E402
from discover.errors import SettingsError  # noqa: E402
from discover.game import load_game  # noqa: E402
from discover.types import Job, JobResult, Outcome, Resources  # noqa: E402
from conftest import stored_count  # noqa: E402

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """The address of a two-node cluster; its processes are stopped at the end (``--block`` keeps
    each node's processes under one process, which stops them on SIGTERM)."""
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a loopback test cluster; the README covers tokens
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--disable-usage-stats", "--block"]
    head = subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=1", "--num-gpus=1", "--include-dashboard=false", *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = [head]
    try:
        _wait_for_nodes(address, 1)
        nodes.append(subprocess.Popen([RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1",
                                       "--num-cpus=1", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 2)
        _NODES[:] = [node.pid for node in nodes]
        yield address
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _wait_for_nodes(address: str, count: int) -> None:
    code = (f"import ray; ray.init(address={address!r}, log_to_driver=False); "
            f"import sys; sys.exit(0 if sum(n['Alive'] for n in ray.nodes()) >= {count} else 1)")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster at {address} did not come up with {count} nodes")


_NODES: list[int] = []  # the test cluster's `ray start` processes


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return seen


def _tasks_running() -> list[int]:
    """Worker processes of the test cluster now executing a task (Ray names them after the task's
    function); other Ray clusters on the machine are left alone."""
    out = subprocess.run(["pgrep", "-f", "^ray::_task"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split() if _ancestors(int(pid)) & set(_NODES)]


def test_a_campaign_with_faults_completes_on_the_cluster(cluster, tmp_path):
    """Exceptions, NaN, a hang (cancelled at its 2 s timeout) and workers that kill themselves
    (SIGSEGV, os._exit) are each recorded with their reason, and the budget is spent."""
    tick = time.monotonic()
    result = Campaign("toy-faulty", params={"hang_seconds": 120}, budget=20, backend="ray", ray_address=cluster,
                      workers=2, timeout=2, db=tmp_path / "ray.db", surrogate="none").run()
    assert len(result.history) == 20 and result.stopped in ("budget", "exhausted")
    by_index = {int(e.label.strip("(,)")): e for e in result.history}
    assert by_index[7].status == Status.TIMEOUT.value and "Ray task cancelled" in by_index[7].message
    assert 1.5 < by_index[7].cost_seconds < 10
    for index in (8, 9):  # SIGSEGV and os._exit: the worker process is gone mid-evaluation
        assert by_index[index].status == Status.FAILED.value and "WorkerCrashedError" in by_index[index].message
    assert all(by_index[i].status == Status.OK.value for i in (0, 1, 2, 4, 6))
    nodes = {e.worker.split("/")[0] for e in result.history if e.worker.startswith("ray@")}
    assert len(nodes) == 2, nodes  # both nodes ran evaluations (SPREAD placement; lost tasks name no node)
    assert time.monotonic() - tick < 120


def test_a_hung_evaluation_is_cancelled_and_its_worker_killed(cluster):
    game = load_game("toy-faulty", hang_seconds=300)
    backend = RayBackend(1, address=cluster)
    backend.start(game)
    try:
        tick = time.monotonic()
        hung = backend.submit(Job(0, (7,), timeout_seconds=2))
        deadline = time.monotonic() + 30
        while not _tasks_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = _tasks_running()
        assert pids, "the hanging task never started"
        result = hung.result(timeout=60)
        assert result.outcome.status is Status.TIMEOUT
        assert time.monotonic() - tick < 30
        deadline = time.monotonic() + 20
        while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(os.path.exists(f"/proc/{pid}") for pid in pids), "the hung worker was not killed"
        assert backend.submit(Job(1, (2,))).result(timeout=60).outcome.status is Status.OK
    finally:
        backend.close()


def test_a_worker_killed_from_outside_is_recorded_and_the_next_job_runs(cluster):
    game = load_game("toy-faulty", hang_seconds=300)
    backend = RayBackend(1, address=cluster)
    backend.start(game)
    try:
        victim = backend.submit(Job(0, (7,)))
        deadline = time.monotonic() + 30
        while not _tasks_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in _tasks_running():
            os.kill(pid, signal.SIGKILL)
        result = victim.result(timeout=60)
        assert result.outcome.status is Status.FAILED
        assert "Ray task failed" in result.outcome.message and "WorkerCrashedError" in result.outcome.message
        assert backend.submit(Job(1, (4,))).result(timeout=60).outcome.value == pytest.approx(0.2)
    finally:
        backend.close()


def test_with_one_retry_a_lost_task_runs_again_before_it_fails(cluster):
    backend = RayBackend(1, address=cluster, retries=1)
    backend.start(load_game("toy-faulty", hang_seconds=300))
    try:
        victim = backend.submit(Job(0, (7,)))
        killed = []
        for _ in range(2):  # the first kill is retried, the second is final
            deadline = time.monotonic() + 60
            while not [p for p in _tasks_running() if p not in killed] and time.monotonic() < deadline:
                time.sleep(0.1)
            fresh = [p for p in _tasks_running() if p not in killed]
            assert fresh, "the task did not run (again)"
            for pid in fresh:
                os.kill(pid, signal.SIGKILL)
            killed += fresh
            if len(killed) == len(fresh):
                time.sleep(1)
                assert not victim.done(), "the first loss was not retried"
        assert victim.result(timeout=60).outcome.status is Status.FAILED
    finally:
        backend.close()


def test_gpu_jobs_go_to_the_node_with_the_gpu(cluster):
    """Resources.gpus becomes num_gpus: the task holds the head node's GPU slot, and Ray shows it
    that slot through CUDA_VISIBLE_DEVICES; CPU jobs see none."""
    game = load_game("toy-faulty", faults=False, gpus=1)
    backend = RayBackend(2, address=cluster)
    backend.start(game)
    try:
        gpu_results = [f.result(timeout=60) for f in [backend.submit(Job(i, (i,), game.resources((i,))))
                                                      for i in (0, 1, 2)]]
    finally:
        backend.close()
    assert all(r.device == "cuda" and r.outcome.artifacts["cuda_visible_devices"] == "0" for r in gpu_results), \
        [(r.device, r.outcome) for r in gpu_results]
    backend = RayBackend(2, address=cluster)
    backend.start(load_game("toy-faulty", faults=False))
    try:
        cpu_result = backend.submit(Job(0, (0,))).result(timeout=60)
    finally:
        backend.close()
    assert cpu_result.device == "cpu" and cpu_result.outcome.artifacts["cuda_visible_devices"] == ""


def test_large_artifacts_are_written_to_files_not_sent_to_the_driver(cluster, tmp_path):
    backend = RayBackend(2, address=cluster, artifact_dir=tmp_path / "artifacts", inline_artifact_bytes=10)
    result = Campaign("toy-faulty", params={"faults": False}, budget=4, backend=backend,
                      db=tmp_path / "a.db", surrogate="none").run()
    for e in result.history:
        assert set(e.artifacts) == {"artifacts_file", "artifacts_bytes"}
        assert Path(e.artifacts["artifacts_file"]).parent == tmp_path / "artifacts"
        assert len(Path(e.artifacts["artifacts_file"]).read_text()) == e.artifacts["artifacts_bytes"]


def test_a_campaign_run_again_reconnects(cluster, tmp_path):
    campaign = Campaign("toy-faulty", params={"faults": False}, budget=6, backend="ray", ray_address=cluster,
                        workers=2, db=tmp_path / "again.db", surrogate="none")
    campaign.subscribe(lambda event: event.kind.value == "evaluation_finished" and event.data["done"] == 2
                       and campaign.stop())
    assert campaign.run().stopped == "stopped"
    result = campaign.run()
    assert len(result.history) == 6 and all(e.status == "ok" for e in result.history)


def test_a_job_no_node_can_hold_fails_at_once_with_the_reason(cluster):
    backend = RayBackend(1, address=cluster)
    backend.start(load_game("toy-faulty", faults=False))
    try:
        tick = time.monotonic()
        result = backend.submit(Job(0, (0,), Resources(cpus=64))).result(timeout=30)
    finally:
        backend.close()
    assert result.outcome.status is Status.FAILED and "no Ray node can hold" in result.outcome.message
    assert "64 CPUs" in result.outcome.message and time.monotonic() - tick < 10


def test_an_artifact_file_that_cannot_be_written_keeps_the_evaluation(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    result = JobResult(Job(1, (1,)), Outcome.ok(2.0, {"big": "x" * 100}), "w", "cpu", 0.0, 1.0)
    kept = offload(result, str(blocked / "artifacts"), 10)
    assert kept.outcome.value == 2.0 and kept.outcome.artifacts["big"] == "x" * 100
    assert "could not write" in kept.outcome.artifacts["artifacts_error"]


def test_offload_keeps_small_artifacts_inline(tmp_path):
    job = Job(3, (1,))
    small = JobResult(job, Outcome.ok(1.0, {"a": 1}), "w", "cpu", 0.0, 1.0)
    assert offload(small, str(tmp_path), 100) is small
    assert offload(small, None, 0) is small
    moved = offload(small, str(tmp_path), 2)
    assert moved.outcome.artifacts["artifacts_bytes"] == len('{"a": 1}') and moved.outcome.value == 1.0


def test_an_unreachable_cluster_is_one_line():
    with pytest.raises(SettingsError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        RayBackend(1, address="127.0.0.1:1")


def test_ray_settings_need_the_ray_backend(tmp_path):
    with pytest.raises(SettingsError, match="applies to the Ray backend only"):
        Campaign("toy-faulty", budget=2, ray_address="auto", db=tmp_path / "x.db")


@pytest.mark.slow  # 12 s; the process backend's kill -9 and resume run by default (test_resume.py)
def test_kill_9_of_the_driver_then_resume_loses_and_repeats_nothing(cluster, tmp_path):
    db = tmp_path / "crash.db"
    cmd = [sys.executable, "-m", "discover.cli"]
    proc = subprocess.Popen(cmd + ["run", "toy-formulation", "-p", "delay=0.2", "--budget", "40", "--workers", "2",
                                   "--db", str(db), "--seed", "3", "--surrogate", "none", "--backend", "ray",
                                   "--ray-address", cluster], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    count = stored_count(db, 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 10 <= count < 40
    with discover.open(db) as store:
        before = {e.state_key: (e.id, e.value, e.status) for e in store.evaluations()}
    resumed = subprocess.run(cmd + ["resume", str(db)], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    with discover.open(db) as store:
        after = store.evaluations()
        assert store.campaign().status == "finished" and store.campaign().settings["backend"] == "ray"
    assert len(after) == 40 and len({e.state_key for e in after}) == 40
    now = {e.state_key: (e.id, e.value, e.status) for e in after}
    assert all(now[k] == v for k, v in before.items())
