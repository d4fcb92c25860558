"""How many POSTs one webhook may have in flight, as its receiver answers (pure): one more for
each round of fast successes, half as many after a failure or a slow answer (additive increase,
multiplicative decrease, as TCP paces itself), and how many claimed POSTs it may hold."""

from __future__ import annotations

import msgspec

# Claimed POSTs a webhook may hold, waiting or in flight: this many times its limit (a
# SendGrid-format POST carries up to a batch of events, so it holds fewer rounds).
QUEUE_ROUNDS = 32
BATCH_ROUNDS = 4


class Pace(msgspec.Struct, frozen=True):
    """A webhook's limit on POSTs in flight, and the fast answers since it last changed."""

    limit: int
    fast: int = 0


class PaceRule(msgspec.Struct, frozen=True):
    start: int  # the limit of a webhook not posted to yet
    ceiling: int  # [webhooks] per_webhook_concurrency
    slow_seconds: float  # an answer this slow counts as a sign to back off


def first_pace(rule: PaceRule) -> Pace:
    return Pace(min(rule.start, rule.ceiling))


def paced(pace: Pace, rule: PaceRule, delivered: bool, seconds: float) -> Pace:
    """The pace after one answer: `limit` fast successes in a row raise the limit by one (one
    a round of POSTs); a failure, no answer or a slow one halves it (at least one)."""
    if not delivered or seconds >= rule.slow_seconds:
        return Pace(max(1, pace.limit // 2))
    if pace.limit >= rule.ceiling:
        return Pace(rule.ceiling)
    if pace.fast + 1 >= pace.limit:
        return Pace(pace.limit + 1)
    return Pace(pace.limit, pace.fast + 1)


def capacity(pace: Pace, batched: bool = False) -> int:
    """How many claimed POSTs a webhook may hold, waiting or in flight."""
    return pace.limit * (BATCH_ROUNDS if batched else QUEUE_ROUNDS)


def room(pace: Pace, held: int, batched: bool = False) -> int:
    """How many more POSTs the webhook may claim while it holds `held`."""
    return max(0, capacity(pace, batched) - held)


def wants_more(pace: Pace, held: int, batched: bool = False) -> bool:
    """Whether to claim for the webhook again: once it is down to half of what it may hold,
    so that claims come in sets, not one a POST."""
    return held <= capacity(pace, batched) // 2
