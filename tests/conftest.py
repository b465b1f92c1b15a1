import pytest

from discover.campaign import Campaign


@pytest.fixture
def run_campaign(tmp_path):
    """Run a campaign into a fresh database under tmp_path; returns the result."""
    counter = iter(range(10_000))

    def run(game, **kwargs):
        kwargs.setdefault("db", tmp_path / f"campaign{next(counter)}.db")
        return Campaign(game, **kwargs).run()

    return run
