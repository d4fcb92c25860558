"""The deliverability check of a sender domain as pure functions: DNS answers gathered by
deliverability_check in, one Finding per check out (SPF, DKIM, DMARC, MX, PTR, MTA-STS,
TLS-RPT, List-Unsubscribe), each saying what was found and what to fix."""

from __future__ import annotations

from typing import Literal

import msgspec

from mta.services.dns_records import (
    TLSRPT_REPORT_LOCAL_PART,
    record_tags,
    report_address,
    return_path_host,
)
from mta.services.spf import LOOKUP_LIMIT, SpfWorld, count_lookups, evaluate

Status = Literal["ok", "warn", "fail"]
RANK: dict[Status, int] = {"ok": 0, "warn": 1, "fail": 2}


class Finding(msgspec.Struct, frozen=True):
    check: str  # SPF, DKIM, DMARC, MX, PTR, MTA-STS, TLS-RPT, List-Unsubscribe
    status: Status
    found: str  # what DNS (or the account) says, in words
    fix: str = ""  # what to do about it ("" when nothing)


class Answer(msgspec.Struct, frozen=True):
    """One look-up: its records ([] for none or no such name), or why it failed."""

    values: list[str] = msgspec.field(default_factory=list)
    error: str = ""


class PtrAnswer(msgspec.Struct, frozen=True):
    address: str
    names: list[str] = msgspec.field(default_factory=list)  # the reverse names
    forward: dict[str, list[str]] = msgspec.field(default_factory=dict)  # name → its addresses
    error: str = ""


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What we publish and send from, for one domain."""

    domain: str
    return_path_host: str
    dkim_host: str
    dkim_public_key: str
    smtp_hostname: str
    source_address: str  # the configured outbound address; "" when none is
    sending_addresses: list[str]  # the addresses SPF and PTR are checked for


class Answers(msgspec.Struct, frozen=True, kw_only=True):
    spf_domain: SpfWorld
    spf_return_path: SpfWorld
    dkim: Answer
    dmarc: Answer
    domain_mx: Answer
    return_path_mx: Answer
    ptr: list[PtrAnswer]
    sending_error: str = ""  # why the sending addresses are unknown
    mta_sts: Answer
    tls_rpt: Answer


class Unsubscribe(msgspec.Struct, frozen=True):
    """What the account's mail can carry: its unsubscribe groups, our one-click base URL."""

    groups: int
    one_click_base_url: str


def findings(facts: Facts, answers: Answers, unsubscribe: Unsubscribe) -> list[Finding]:
    return [
        spf_finding(facts.return_path_host, answers.spf_return_path, facts, required=True),
        spf_finding(facts.domain, answers.spf_domain, facts, required=False),
        dkim_finding(facts, answers.dkim),
        dmarc_finding(facts, answers.dmarc),
        mx_finding(facts, answers.return_path_mx, answers.domain_mx),
        ptr_finding(facts, answers.ptr, answers.sending_error),
        mta_sts_finding(facts, answers.mta_sts),
        tls_rpt_finding(facts, answers.tls_rpt),
        unsubscribe_finding(unsubscribe),
    ]


def worst(found: list[Finding]) -> Status:
    return max((f.status for f in found), key=RANK.__getitem__, default="ok")


def unasked(check: str, host: str, error: str) -> Finding:
    return Finding(
        check, "warn", f"Could not ask DNS about {host}: {error}.", "Run the check again."
    )


def spf_finding(host: str, world: SpfWorld, facts: Facts, *, required: bool) -> Finding:
    """SPF at `host`: one record, within 10 look-ups, passing for our sending addresses
    (required at the return path, the envelope sender receivers check)."""
    check = f"SPF ({host})"
    if host not in world.records:
        return unasked(check, host, "; ".join(world.errors) or "no answer")
    records = world.records[host]
    ours = f"a:{facts.smtp_hostname}"
    if not records:
        if required:
            return Finding(
                check, "fail", f"No SPF record at {host}.", f'Publish TXT "v=spf1 {ours} ~all".'
            )
        return Finding(
            check,
            "warn",
            f"No SPF record at {host}. Our mail passes SPF at {facts.return_path_host}.",
            f"Publish one SPF record at {host} naming everything that sends as {host} "
            '("v=spf1 -all" if nothing does).',
        )
    if len(records) > 1:
        shown = " | ".join(records)
        return Finding(
            check,
            "fail",
            f"{len(records)} SPF records at {host}: {shown}",
            "Merge them into one record: with several, receivers fail SPF (permerror).",
        )
    lookups = count_lookups(world, host)
    if lookups > LOOKUP_LIMIT:
        return Finding(
            check,
            "fail",
            f"{records[0]} needs {lookups} DNS look-ups; receivers stop at {LOOKUP_LIMIT}.",
            "Remove includes you no longer use or replace them by ip4:/ip6: ranges.",
        )
    return _spf_passes(check, host, records[0], lookups, world, facts, required)


def _spf_passes(
    check: str,
    host: str,
    record: str,
    lookups: int,
    world: SpfWorld,
    facts: Facts,
    required: bool,
) -> Finding:
    found = f"{record} ({lookups} of {LOOKUP_LIMIT} look-ups)."
    if not facts.sending_addresses:
        return Finding(check, "warn", found + " Our sending address is unknown.", "See PTR.")
    results = {ip: evaluate(world, host, ip) for ip in facts.sending_addresses}
    if "temperror" in results.values():
        return unasked(check, host, "; ".join(world.errors) or "an include was not answered")
    failing = {ip: result for ip, result in results.items() if result != "pass"}
    if not failing:
        listed = ", ".join(results)
        return Finding(check, "ok", f"{found} It permits our sending address {listed}.")
    said = ", ".join(f"{result} for {ip}" for ip, result in failing.items())
    if not required:
        return Finding(
            check, "ok", f"{found} It says {said}: fine, our mail uses {facts.return_path_host}."
        )
    return Finding(
        check,
        "fail",
        f"{found} It says {said}.",
        f"Add {'a:' + facts.smtp_hostname} before the record's all term.",
    )


def dkim_finding(facts: Facts, answer: Answer) -> Finding:
    host = facts.dkim_host
    if answer.error:
        return unasked("DKIM", host, answer.error)
    keys = [text for text in answer.values if "p=" in text.replace(" ", "")]
    publish = "Publish the DKIM record shown above."
    if not keys:
        return Finding("DKIM", "fail", f"No DKIM key at {host}.", publish)
    published = record_tags(keys[0]).get("p", "")
    if published == facts.dkim_public_key and len(keys) == 1:
        return Finding("DKIM", "ok", f"The key at {host} is ours.")
    if not published:
        return Finding("DKIM", "fail", f"The key at {host} is revoked (empty p=).", publish)
    if len(keys) > 1:
        return Finding("DKIM", "fail", f"{len(keys)} DKIM records at {host}.", "Keep only ours.")
    return Finding(
        "DKIM",
        "fail",
        f"The key at {host} is not ours: p={_short(published)}",
        "Replace it with the DKIM record shown above.",
    )


def dmarc_finding(facts: Facts, answer: Answer) -> Finding:
    host = f"_dmarc.{facts.domain}"
    if answer.error:
        return unasked("DMARC", host, answer.error)
    records = [text for text in answer.values if text.replace(" ", "").startswith("v=DMARC1")]
    if not records:
        return Finding(
            "DMARC",
            "fail",
            f"No DMARC record at {host}.",
            'Publish TXT "v=DMARC1; p=none; rua=mailto:you@your-domain" to start, then tighten.',
        )
    if len(records) > 1:
        return Finding(
            "DMARC", "fail", f"{len(records)} DMARC records at {host}.", "Keep exactly one."
        )
    tags = record_tags(records[0])
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return Finding(
            "DMARC",
            "fail",
            f"{records[0]}: no valid p= policy.",
            "Set p=none, quarantine or reject.",
        )
    notes, fixes = _dmarc_notes(facts, tags, policy)
    status: Status = "warn" if fixes else "ok"
    return Finding("DMARC", status, " ".join([f"{records[0]}.", *notes]), " ".join(fixes))


def _dmarc_notes(facts: Facts, tags: dict[str, str], policy: str) -> tuple[list[str], list[str]]:
    notes = [f"Policy {policy}; DKIM (d={facts.domain}) aligns."]
    fixes = []
    if tags.get("aspf", "r").lower() == "s":
        notes.append(f"SPF does not align: aspf=s and our return path is {facts.return_path_host}.")
    else:
        notes.append(f"SPF aligns through {facts.return_path_host} (relaxed).")
    if policy == "none":
        fixes.append(
            "p=none only monitors: move to quarantine, then reject, once reports are clean."
        )
    if "rua" not in tags:
        fixes.append("Add rua=mailto:... to receive aggregate reports.")
    if tags.get("pct", "100") != "100":
        fixes.append(f"pct={tags['pct']} applies the policy to part of the mail only.")
    return notes, fixes


def mx_finding(facts: Facts, return_path: Answer, domain: Answer) -> Finding:
    host, ours = facts.return_path_host, facts.smtp_hostname.lower().rstrip(".")
    if return_path.error:
        return unasked("MX", host, return_path.error)
    hosts = [text.split()[-1].rstrip(".").lower() for text in return_path.values if text.split()]
    if ours in hosts:
        return Finding("MX", "ok", f"{host} has MX {ours}: bounces come back to us.")
    publish = f"Publish MX 10 {ours} at {host}."
    if hosts:
        return Finding(
            "MX", "fail", f"MX at {host} points to {', '.join(hosts)}, not {ours}.", publish
        )
    if domain.values:
        return Finding(
            "MX",
            "warn",
            f"No MX at {host}; {facts.domain} has MX, but bounces to {host} go nowhere.",
            publish,
        )
    return Finding("MX", "fail", f"Neither {host} nor {facts.domain} has MX.", publish)


def ptr_finding(facts: Facts, answers: list[PtrAnswer], sending_error: str) -> Finding:
    """Reverse DNS of our sending address: a name that resolves back (FCrDNS)."""
    if facts.source_address:
        source = f"Sending address {facts.source_address}."
    else:
        source = (
            "No outbound source address is configured, so mail leaves from the address the "
            f"system picks; checked the addresses of {facts.smtp_hostname}."
        )
    if not answers:
        why = sending_error or f"{facts.smtp_hostname} has no address"
        return Finding(
            "PTR",
            "fail",
            f"{source} {why}.",
            f"Publish an A record for {facts.smtp_hostname} (the name we greet with).",
        )
    problems = [_ptr_problem(facts, answer) for answer in answers]
    said = [p for p in problems if p]
    if not said:
        names = ", ".join(f"{a.address} → {a.names[0]}" for a in answers)
        return Finding("PTR", "ok", f"{source} {names}, confirmed forward.")
    return Finding(
        "PTR",
        "fail",
        " ".join([source, *said]),
        f"Ask whoever owns the address to set its reverse name to {facts.smtp_hostname}, "
        "a name whose A/AAAA record gives the address back.",
    )


def _ptr_problem(facts: Facts, answer: PtrAnswer) -> str:
    if answer.error:
        return f"Could not ask DNS about {answer.address}: {answer.error}."
    if not answer.names:
        return f"{answer.address} has no reverse name (PTR)."
    confirmed = [n for n in answer.names if answer.address in answer.forward.get(n, [])]
    if not confirmed:
        return f"{answer.address} is named {answer.names[0]}, which does not resolve back to it."
    return ""


def mta_sts_finding(facts: Facts, answer: Answer) -> Finding:
    host = f"_mta-sts.{facts.domain}"
    if answer.error:
        return unasked("MTA-STS", host, answer.error)
    records = [text for text in answer.values if text.replace(" ", "").startswith("v=STSv1")]
    policy = f"https://mta-sts.{facts.domain}/.well-known/mta-sts.txt"
    if not records:
        return Finding(
            "MTA-STS",
            "warn",
            f"No MTA-STS record at {host}: senders to {facts.domain} may deliver without TLS.",
            f'Optional: serve a policy at {policy} and publish TXT "v=STSv1; id=20250101".',
        )
    if len(records) > 1 or "id" not in record_tags(records[0]):
        return Finding(
            "MTA-STS",
            "fail",
            f"At {host}: {' | '.join(records)}",
            "Publish one record with an id=.",
        )
    return Finding(
        "MTA-STS", "ok", f"{records[0]} (the policy at {policy} is not fetched by this check)."
    )


def tls_rpt_finding(facts: Facts, answer: Answer) -> Finding:
    host = f"_smtp._tls.{facts.domain}"
    if answer.error:
        return unasked("TLS-RPT", host, answer.error)
    records = [text for text in answer.values if text.replace(" ", "").startswith("v=TLSRPTv1")]
    ours = report_address(TLSRPT_REPORT_LOCAL_PART, return_path_host(facts.domain))
    publish = (
        f'Publish TXT "v=TLSRPTv1; rua=mailto:{ours}" to see TLS failure reports in ScaiSend '
        "(GET /v3/user/tls_reports), or your own address."
    )
    if not records:
        return Finding("TLS-RPT", "warn", f"No TLS-RPT record at {host}.", publish)
    if len(records) > 1 or "rua" not in record_tags(records[0]):
        return Finding(
            "TLS-RPT", "fail", f"At {host}: {' | '.join(records)} (no single rua=).", publish
        )
    return Finding("TLS-RPT", "ok", f"{records[0]}.")


def unsubscribe_finding(unsubscribe: Unsubscribe) -> Finding:
    """Mail naming an unsubscribe group (asm.group_id) or asking for subscription_tracking
    gets List-Unsubscribe (mailto and an https one-click link) and List-Unsubscribe-Post."""
    rule = (
        "Mail that names an unsubscribe group (asm.group_id) or enables subscription_tracking "
        "gets List-Unsubscribe and List-Unsubscribe-Post (one-click)."
    )
    fixes = []
    if unsubscribe.groups == 0:
        fixes.append(
            "Create an unsubscribe group and send bulk mail with its asm.group_id: large "
            "mailbox providers require one-click unsubscribe from bulk senders."
        )
    if not unsubscribe.one_click_base_url.startswith("https://"):
        fixes.append(
            f"The one-click link starts {unsubscribe.one_click_base_url}: set [tracking] "
            "base_url to an https:// address people's mail providers can reach."
        )
    found = f"{rule} The account has {unsubscribe.groups} unsubscribe group(s)."
    return Finding("List-Unsubscribe", "warn" if fixes else "ok", found, " ".join(fixes))


def _short(text: str, keep: int = 24) -> str:
    return text if len(text) <= keep else f"{text[:keep]}…"
