"""The Queue page's view data: depth by destination, the deferred reasons, the actions a
message offers, the link back to the list after an action."""

from __future__ import annotations

import pytest

from control.ui.forms import form_struct
from control.ui.pages.queue import (
    QueueFilter,
    actions_for,
    back_link,
    deferred_reasons,
    destinations,
    row_of,
)
from mta.core.errors import ValidationError
from mta.scheduler.queue_admin import QueuedMessage, QueuedRecipient, QueueState

LATER = "451 4.2.0 try later"


def recipient(
    email: str, due: float, reply: str | None = LATER, status: str = "pending", tries: int = 1
) -> QueuedRecipient:
    return QueuedRecipient(
        email=email, status=status, attempts=tries, next_attempt_at=due, last_reply=reply
    )


def message(
    queue_id: str, created: float, *recipients: QueuedRecipient, state: QueueState = "deferred"
) -> QueuedMessage:
    return QueuedMessage(
        queue_id=queue_id,
        message_id=f"m-{queue_id}",
        account_id="acct",
        sender="hello@mail.example.com",
        state=state,
        created_at=created,
        recipients=list(recipients),
        due_at=min((r.next_attempt_at for r in recipients), default=None),
    )


def test_depth_counts_messages_per_pending_domain_with_the_oldest_and_next_try() -> None:
    found = destinations(
        [
            message(
                "q1", 100.0, recipient("a@Example.com", 500.0), recipient("b@example.net", 400.0)
            ),
            message(
                "q2", 50.0, recipient("c@example.com", 300.0), recipient("d@example.com", 200.0)
            ),
            message("q3", 10.0, recipient("e@example.net", 100.0), state="held"),
            message("q4", 5.0, recipient("f@example.org", 1.0, status="delivered")),
        ]
    )
    assert [(d.domain, d.messages, d.oldest, d.next_attempt) for d in found] == [
        ("example.com", 2, 50.0, 200.0),
        ("example.net", 2, 10.0, 400.0),  # the held one's time is no next attempt
    ]
    assert (
        destinations([message("q3", 10.0, recipient("e@example.net", 1.0), state="held")])[
            0
        ].next_attempt
        is None
    )


def test_reasons_group_the_last_replies_of_pending_recipients() -> None:
    found = deferred_reasons(
        [
            message("q1", 1.0, recipient("a@x.test", 1.0), recipient("b@x.test", 1.0, "451 grey")),
            message("q2", 1.0, recipient("c@x.test", 1.0), recipient("d@x.test", 1.0, None)),
            message("q3", 1.0, recipient("e@x.test", 1.0, "550 no", status="bounced")),
        ]
    )
    assert [(r.reply, r.recipients) for r in found] == [(LATER, 2), ("451 grey", 1)]


def test_each_state_offers_the_actions_the_queue_takes() -> None:
    assert actions_for("deferred") == ["hold", "retry", "delete"]
    assert actions_for("scheduled") == ["hold", "retry", "delete"]
    assert actions_for("held") == ["release", "delete"]
    assert actions_for("active") == ["hold", "delete"]
    held = row_of(message("q1", 0.0, recipient("a@x.test", 60.0), state="held"))
    assert held.next_attempt == "—" and held.state_label == "Held" and held.last_reply == LATER


def test_the_link_back_keeps_the_lists_filter_only() -> None:
    query = {"domain": "example.com", "state": "held", "page": "2", "evil": "https://x"}
    assert back_link(query) == "/ui/queue?domain=example.com&state=held&page=2"
    assert back_link({}, "hold", "q 1") == "/ui/queue?done=hold&id=q+1"


def test_the_filter_takes_the_apis_states_only() -> None:
    assert form_struct({"state": "held"}, QueueFilter) == QueueFilter(state="held")
    with pytest.raises(ValidationError) as refused:
        form_struct({"state": "bogus"}, QueueFilter)
    assert refused.value.field == "state" and "bogus" in refused.value.message
