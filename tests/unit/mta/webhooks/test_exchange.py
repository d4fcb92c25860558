"""What the delivery log keeps of an attempt: the headers with an OAuth token hidden, the
event count, and the answer's start bounded and decoded whatever bytes the receiver sent."""

from __future__ import annotations

from mta.webhooks.jobs import HIDDEN, RESPONSE_EXCERPT, exchange_from, exchange_of


def test_a_bearer_token_is_hidden_and_the_rest_kept() -> None:
    sent = {
        "Authorization": "Bearer t0ken",
        "X-ScaiSend-Signature": "abc",
        "X-ScaiSend-Timestamp": "1",
    }
    kept = exchange_from(exchange_of(sent, 3, b'{"ok": true}'))
    assert kept is not None
    assert kept.headers == {**sent, "Authorization": HIDDEN} and "t0ken" not in str(kept)
    assert kept.events == 3 and kept.response == '{"ok": true}'


def test_the_answer_is_bounded_and_any_bytes_are_decoded() -> None:
    kept = exchange_from(exchange_of({}, 1, b"\xff\xfe<b>" + "é".encode() * 4000))
    assert kept is not None and kept.response is not None
    assert len(kept.response) == RESPONSE_EXCERPT and kept.response.startswith("\ufffd\ufffd<b>é")


def test_no_answer_and_nothing_kept() -> None:
    kept = exchange_from(exchange_of({"A": "b"}, 1, None))
    assert kept is not None and kept.response is None
    assert exchange_from(None) is None and exchange_from("") is None
    assert exchange_from("not json") is None
