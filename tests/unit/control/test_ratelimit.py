"""Token buckets: refill, spend, the header values, Retry-After, and the bound on buckets."""

from __future__ import annotations

import pytest

from control.ratelimit import Decision, TokenBuckets, decide, refill


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("tokens", "elapsed", "rate", "burst", "expected"),
    [
        (0.0, 1.0, 2.0, 10, 2.0),
        (5.0, 0.25, 4.0, 10, 6.0),
        (9.5, 10.0, 1.0, 10, 10.0),  # never above the burst
        (3.0, -50.0, 1.0, 10, 3.0),  # a clock stepping back adds nothing
        (0.0, 0.0, 1.0, 1, 0.0),
    ],
)
def test_refill(tokens: float, elapsed: float, rate: float, burst: int, expected: float) -> None:
    assert refill(tokens, elapsed, rate, burst) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tokens", "now", "rate", "burst", "left", "decision"),
    [
        # full bucket of 10 at 2/s: one spent, full again in 0.5 s → ceil(1000.5)
        (10.0, 1000.0, 2.0, 10, 9.0, Decision(True, 10, 9, 1001, 0)),
        (1.0, 1000.0, 1.0, 5, 0.0, Decision(True, 5, 0, 1005, 0)),
        # empty: refused, one token back in 1 s at 1/s
        (0.0, 1000.0, 1.0, 5, 0.0, Decision(False, 5, 0, 1005, 1)),
        # 0.5 tokens at 0.1/s: 5 s until one token
        (0.5, 1000.0, 0.1, 3, 0.5, Decision(False, 3, 0, 1025, 5)),
        # a fast bucket still says at least 1 s
        (0.9, 1000.0, 1000.0, 5, 0.9, Decision(False, 5, 0, 1001, 1)),
    ],
)
def test_decide(
    tokens: float, now: float, rate: float, burst: int, left: float, decision: Decision
) -> None:
    got_left, got = decide(tokens, now, rate, burst)
    assert got_left == pytest.approx(left)
    assert got == decision


def test_a_burst_then_refusal_then_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 3, clock=clock)
    seen = [buckets.take("k") for _ in range(4)]
    assert [d.allowed for d in seen] == [True, True, True, False]
    assert [d.remaining for d in seen] == [2, 1, 0, 0]
    assert seen[-1].retry_after == 1
    clock.now += 0.5  # one token back at 2/s
    assert buckets.take("k").allowed
    assert not buckets.take("k").allowed


def test_keys_do_not_share_a_budget() -> None:
    buckets = TokenBuckets(1.0, 1, clock=Clock())
    assert buckets.take("a").allowed
    assert not buckets.take("a").allowed
    assert buckets.take("b").allowed


def test_buckets_are_bounded_and_forget_the_least_recently_used() -> None:
    clock = Clock()
    buckets = TokenBuckets(1.0, 1, max_buckets=3, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    buckets.take("a")  # refused, but now the most recently used
    buckets.take("d")  # pushes out "b"
    assert len(buckets) == 3
    assert buckets.take("b").allowed  # forgotten: a full bucket again
    assert not buckets.take("a").allowed  # still remembered as empty
    for n in range(1000):
        buckets.take(f"ip:{n}")
    assert len(buckets) == 3


@pytest.mark.parametrize(("rate", "burst", "most"), [(0, 1, 1), (1, 0, 1), (1, 1, 0), (-1, 5, 5)])
def test_refuses_nonsense_limits(rate: float, burst: int, most: int) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate, burst, max_buckets=most)


def test_configure_applies_a_lower_limit_from_the_next_request() -> None:
    clock = Clock()
    buckets = TokenBuckets(100.0, 100, clock=clock)
    assert buckets.take("k").remaining == 99
    buckets.configure(1.0, 2)
    seen = [buckets.take("k") for _ in range(3)]
    assert [d.allowed for d in seen] == [True, True, False]
    assert seen[0].limit == 2 and seen[-1].retry_after == 1
    with pytest.raises(ValueError):
        buckets.configure(0.0, 2)
