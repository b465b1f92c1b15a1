"""The planner's threads follow the cores the busy workers leave."""

import torch
from threadpoolctl import threadpool_info

from discover.threads import cores, spare_cores, thread_cap


def test_spare_cores_leave_at_least_one():
    assert spare_cores(0) == cores()
    assert spare_cores(cores()) == 1 and spare_cores(10 * cores()) == 1


def test_thread_cap_bounds_torch_and_blas_and_restores_them():
    outside = torch.get_num_threads()
    torch.set_num_threads(2)  # so that the cap changes something, however many threads this process has
    try:
        with thread_cap(1):
            assert torch.get_num_threads() == 1
            assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(outside)


def test_a_campaign_gives_the_planner_the_cores_its_workers_leave(monkeypatch, run_campaign):
    import discover.campaign as campaign

    seen = []
    real = campaign.thread_cap

    def spy(threads):
        seen.append(threads)
        return real(threads)

    monkeypatch.setattr(campaign, "thread_cap", spy)
    monkeypatch.setattr(campaign, "spare_cores", lambda busy: max(1, 4 - busy))  # a 4-core machine
    run_campaign("toy-formulation", params={"delay": 0.5}, budget=6, seed=0, workers=2, surrogate="none")
    # nothing in flight at the first ask: every core; afterwards the planner runs while the other
    # one-thread worker is busy: one core fewer
    assert seen[0] == 4 and 3 in seen and set(seen) <= {3, 4}
