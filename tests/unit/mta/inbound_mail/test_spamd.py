"""Reading spamd's answer to REPORT, and the `[inbound] spamd` setting."""

from __future__ import annotations

import pytest

from mta.inbound_mail.spamd import SpamdError, parse_answer, spamd_address

ANSWER = (
    b"SPAMD/1.1 0 EX_OK\r\nContent-length: 31\r\nSpam: True ; 1003.5 / 5.0\r\n\r\n"
    b"1000 GTUBE  BODY: Generic Test\r\n"
)


def test_the_score_and_report_are_read() -> None:
    verdict = parse_answer(ANSWER)
    assert verdict.score == "1003.5" and verdict.report == "1000 GTUBE  BODY: Generic Test"


def test_a_negative_score_is_kept_as_written() -> None:
    answer = ANSWER.replace(b"True ; 1003.5", b"False ; -0.4")
    assert parse_answer(answer).score == "-0.4"


@pytest.mark.parametrize(
    "answer",
    [
        b"SPAMD/1.1 76 Bad header line: X\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n",  # no Spam: header
        b"",
    ],
)
def test_an_answer_that_is_not_a_verdict_is_an_error(answer: bytes) -> None:
    with pytest.raises(SpamdError):
        parse_answer(answer)


def test_the_setting_names_host_and_port() -> None:
    assert spamd_address("") is None
    assert spamd_address("127.0.0.1:783") == ("127.0.0.1", 783)
    assert spamd_address("[::1]:783") == ("::1", 783)
