"""How many send threads a channel gets: fewer while sends are CPU-bound, more while they wait."""

from __future__ import annotations

from siyu.messaging.dispatch import Concurrency


def test_a_channel_starts_with_the_setting_and_never_exceeds_it() -> None:
    c = Concurrency()
    assert c.get("webhook", 16) == 16
    c.observe("webhook", 16, 500, cpu_s=0.001, wall_s=1.0, ceiling=16)  # waiting for answers
    assert c.get("webhook", 16) == 16
    assert c.get("webhook", 8) == 8  # a lowered setting wins at once


def test_cpu_bound_sends_halve_the_threads_down_to_two_and_waiting_doubles_them_back() -> None:
    c = Concurrency()
    counts = []
    for _ in range(4):
        used = c.get("webhook", 16)
        c.observe("webhook", used, 500, cpu_s=0.95 * 1.0, wall_s=1.0, ceiling=16)  # threads fill the wall
        counts.append(c.get("webhook", 16))
    assert counts == [8, 4, 2, 2]
    for _ in range(4):
        used = c.get("webhook", 16)
        c.observe("webhook", used, 500, cpu_s=0.1, wall_s=1.0, ceiling=16)  # a slow receiver
        counts.append(c.get("webhook", 16))
    assert counts[4:] == [4, 8, 16, 16]


def test_middling_load_small_batches_and_other_channels_change_nothing() -> None:
    c = Concurrency()
    c.observe("webhook", 16, 500, cpu_s=0.5, wall_s=1.0, ceiling=16)  # between the two marks
    c.observe("webhook", 16, 20, cpu_s=1.0, wall_s=1.0, ceiling=16)  # too few messages to judge
    c.observe("email", 16, 500, cpu_s=1.0, wall_s=1.0, ceiling=16)
    assert (c.get("webhook", 16), c.get("email", 16)) == (16, 8)
