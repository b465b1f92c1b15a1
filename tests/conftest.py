import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # one of two test processes sharing the cores: one thread each
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # before numpy, scipy and torch load their thread pools
    import torch

    torch.set_num_threads(1)  # a campaign inside a test still caps its planner at the spare cores

import sqlite3  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

import discover  # noqa: E402
from discover.campaign import Campaign  # noqa: E402


def stored_count(db, at_least, timeout=120.0):
    """Wait until the campaign database ``db``, written by another process, holds ``at_least``
    evaluations (or ``timeout`` passes); the count last read. A file still being created, or
    caught mid-write, is read again."""
    deadline, count = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and count < at_least:
        time.sleep(0.2)
        if db.exists():
            try:
                with discover.open(db) as store:
                    count = store.count()
            except (discover.StoreError, sqlite3.Error):
                continue
    return count


@pytest.fixture
def run_campaign(tmp_path):
    """Run a campaign into a fresh database under tmp_path; returns the result."""
    counter = iter(range(10_000))

    def run(game, **kwargs):
        kwargs.setdefault("db", tmp_path / f"campaign{next(counter)}.db")
        return Campaign(game, **kwargs).run()

    return run


GP_CAMPAIGN = dict(game="toy-formulation", budget=14, backend="inline", surrogate="gp", seed=3)


@pytest.fixture(scope="session")
def gp_campaign(tmp_path_factory):
    """One GP-guided toy campaign (``GP_CAMPAIGN``) that several tests read and none writes: each
    costs ~10 s on two cores, so the suite runs it once (once per test process)."""
    settings = dict(GP_CAMPAIGN)
    return Campaign(settings.pop("game"), db=tmp_path_factory.mktemp("gp") / "gp.db", **settings).run()
