import os
import sqlite3
import time

import pytest

import discover
from discover.campaign import Campaign


if os.environ.get("PYTEST_XDIST_WORKER"):  # one of two test processes sharing the cores: one thread each
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


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
