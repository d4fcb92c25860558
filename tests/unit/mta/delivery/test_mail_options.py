"""What MAIL FROM asks of the next hop: BODY=8BITMIME and SMTPUTF8 only when needed, and a
permanent failure when the hop cannot take the message as it is."""

from __future__ import annotations

import pytest

from mta.delivery.pipelining import Transaction, mail_options
from queue_store.entries import SmtpReply

BOTH = {"8bitmime": "", "smtputf8": "", "size": "1000"}


@pytest.mark.parametrize(
    ("sender", "recipient", "content", "extensions", "expected"),
    [
        ("a@x.test", "b@y.test", b"plain", {}, []),
        ("a@x.test", "b@y.test", b"plain", BOTH, []),
        ("a@x.test", "b@y.test", "café".encode(), BOTH, ["BODY=8BITMIME"]),
        ("a@x.test", "b@y.test", "café".encode(), {"smtputf8": ""}, ("5.6.3", 554)),
        ("a@x.test", "用户@例子.中国", b"plain", BOTH, ["SMTPUTF8"]),
        ("ü@x.test", "b@y.test", "ü".encode(), BOTH, ["BODY=8BITMIME", "SMTPUTF8"]),
        ("a@x.test", "用户@例子.中国", b"plain", {"8bitmime": ""}, ("5.6.7", 553)),
    ],
)
def test_mail_options(
    sender: str,
    recipient: str,
    content: bytes,
    extensions: dict[str, str],
    expected: list[str] | tuple[str, int],
) -> None:
    options = mail_options(Transaction(sender, recipient), content, extensions)
    if isinstance(expected, tuple):
        assert isinstance(options, SmtpReply)
        assert (options.enhanced, options.code) == expected
    else:
        assert options == expected
