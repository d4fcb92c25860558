"""SPF over gathered answers: terms parsed, DNS-querying terms counted through includes, and
check_host() results for an address (RFC 7208)."""

from __future__ import annotations

import pytest

from mta.services.spf import SpfWorld, count_lookups, evaluate, parse_terms, spf_records

OURS = "192.0.2.10"


def world(records: dict[str, list[str]], addresses: dict[str, list[str]] | None = None) -> SpfWorld:
    return SpfWorld(records=records, addresses=addresses or {})


def test_terms_take_the_domain_when_they_name_none_and_keep_their_cidr() -> None:
    terms = parse_terms(
        "v=spf1 a mx/24 a:mx.example.net//64 ~all redirect=_spf.example.net", "d.example"
    )
    assert [(t.qualifier, t.name, t.target, t.cidr) for t in terms] == [
        ("+", "a", "d.example", ""),
        ("+", "mx", "d.example", "/24"),
        ("+", "a", "mx.example.net", "//64"),
        ("~", "all", "", ""),
        ("+", "redirect", "_spf.example.net", ""),
    ]
    assert terms[-1].modifier


def test_only_v_spf1_texts_are_spf_records() -> None:
    assert spf_records(["v=spf1 -all", "google-site-verification=x", "v=spf10"]) == ["v=spf1 -all"]


@pytest.mark.parametrize(
    ("records", "addresses", "expected"),
    [
        ({"d.example": ["v=spf1 ip4:192.0.2.0/24 -all"]}, {}, "pass"),
        ({"d.example": ["v=spf1 ip4:198.51.100.1 -all"]}, {}, "fail"),
        ({"d.example": ["v=spf1 ip4:198.51.100.1 ~all"]}, {}, "softfail"),
        ({"d.example": ["v=spf1 a:mx.scaisend.test ~all"]}, {"mx.scaisend.test": [OURS]}, "pass"),
        (
            {"d.example": ["v=spf1 a:mx.scaisend.test/24 -all"]},
            {"mx.scaisend.test": ["192.0.2.99"]},
            "pass",
        ),
        ({"d.example": ["v=spf1 mx -all"]}, {"mx:d.example": [OURS]}, "pass"),
        (
            {
                "d.example": ["v=spf1 include:i.example -all"],
                "i.example": ["v=spf1 ip4:192.0.2.10 -all"],
            },
            {},
            "pass",
        ),
        ({"d.example": ["v=spf1 include:i.example -all"], "i.example": []}, {}, "permerror"),
        (
            {
                "d.example": ["v=spf1 redirect=r.example"],
                "r.example": ["v=spf1 ip4:192.0.2.10 -all"],
            },
            {},
            "pass",
        ),
        ({"d.example": ["v=spf1 -all", "v=spf1 +all"]}, {}, "permerror"),
        ({"d.example": []}, {}, "none"),
        ({}, {}, "temperror"),
        ({"d.example": ["v=spf1 ip4:not-an-address -all"]}, {}, "permerror"),
        ({"d.example": ["v=spf1 ip6:2001:db8::/32 -all"]}, {}, "fail"),
        ({"d.example": ["v=spf1 ?exists:%{i}.x.example"]}, {}, "neutral"),
    ],
)
def test_evaluate(
    records: dict[str, list[str]], addresses: dict[str, list[str]], expected: str
) -> None:
    assert evaluate(world(records, addresses), "d.example", OURS) == expected


def test_lookups_are_counted_through_includes_and_redirects_once_each() -> None:
    many = {f"i{n}.example": ["v=spf1 a mx -all"] for n in range(6)}
    includes = " ".join(f"include:i{n}.example" for n in range(6))
    tree = world({"d.example": [f"v=spf1 ip4:192.0.2.1 {includes} -all"], **many})
    assert count_lookups(tree, "d.example") == 6 + 6 * 2
    looped = world({"d.example": ["v=spf1 include:d.example -all"]})
    assert count_lookups(looped, "d.example") == 1
    assert (
        count_lookups(
            world({"d.example": ["v=spf1 redirect=r.example"], "r.example": ["v=spf1 a -all"]}),
            "d.example",
        )
        == 2
    )
