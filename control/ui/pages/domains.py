"""The Domains page (account admins): the account's sender domains and a form to add one; a
domain's DNS records to publish, Verify with a reason per record, the deliverability check."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.schemas.bodies import DomainCreate
from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct, optional
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, Form, missing, page, poster, viewer
from mta.core.errors import NotFound, ScaiSendError
from mta.services.deliverability import Finding, worst
from mta.services.dns_records import DnsRecord
from mta.services.domains import DomainView

SLUG = "domains"
PURPOSES = {
    "dkim": "DKIM key: receivers check our signature with it",
    "return_path": "Return path MX: bounces come back to us",
    "spf": "SPF for the return path: permits our servers to send",
    "dmarc": "DMARC: what receivers do with mail that fails",
}
POLICIES = ("none", "quarantine", "reject")


class RecordRow(msgspec.Struct, frozen=True):
    """One record to publish, and what the last Verify found for it."""

    type: str
    host: str
    value: str  # as entered in a DNS form (an MX's priority in front)
    purpose: str
    state: str  # "" not checked, found, missing, different, failed
    reason: str
    found: list[str]


def record_row(record: DnsRecord, verified: bool = False) -> RecordRow:
    """A person's reading of one record's check (pure); `verified`: the domain's last Verify
    found every record, when this record was not checked just now."""
    value = f"{record.priority} {record.value}" if record.priority is not None else record.value
    purpose = PURPOSES.get(record.purpose, record.purpose)
    if record.valid is None and verified:
        state, reason = "found", "Found when the domain was last verified."
    else:
        state, reason = _verdict(record)
    return RecordRow(record.type, record.host, value, purpose, state, reason, record.found or [])


def _verdict(record: DnsRecord) -> tuple[str, str]:
    if record.valid is None:
        return "", "Not checked yet: publish it, then press Verify."
    if record.valid:
        return "found", "Found: published as expected."
    if record.found is None:
        return "failed", f"Could not ask DNS ({record.reason}). Try again in a minute."
    if not record.found:
        return "missing", (
            f"Missing: nothing of type {record.type} is published at {record.host} yet. "
            "New records can take a while to appear."
        )
    return "different", f"Found but different: {record.reason}. DNS has:"


def form_fields(form: Form) -> dict[str, Any]:
    """The add form as DomainCreate's JSON body would give it."""
    return {
        "domain": form.get("domain", ""),
        "dmarc_policy": form.get("dmarc_policy") or "none",
        "dmarc_rua_email": optional(form.get("dmarc_rua_email")),
    }


@get("/domains")
async def domains(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await domain_list(request, services, caller)


async def domain_list(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    status: int = 200,
    form: Form | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    account = caller.principal.account_id
    rows = await services.domains.list(account, limit=paging.fetch, offset=paging.offset)
    return page(
        "domains.html",
        caller,
        status,
        title="Domains",
        current=SLUG,
        domains=shown(rows, paging, query),
        form=form or {},
        errors=errors or {},
        policies=POLICIES,
    )


@post("/domains", status_code=303)
async def add_domain(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    try:
        body = form_struct(form_fields(form), DomainCreate)
        made = await services.domains.create(
            caller.principal.account_id, body.domain, body.dmarc_policy, body.dmarc_rua_email
        )
    except ScaiSendError as exc:
        return await domain_list(request, services, caller, 400, form, field_errors(exc))
    return Redirect(f"/ui/domains/{made.id}", status_code=303)


@get("/domains/{domain_id:str}")
async def domain_page(
    request: AnyRequest, services: NamedDependency[Services], domain_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await shown_domain(services, caller, domain_id)


@get("/domains/{domain_id:str}/check")
async def deliverability(
    request: AnyRequest, services: NamedDependency[Services], domain_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    try:
        found = await services.deliverability.check(caller.principal.account_id, domain_id)
    except NotFound:
        return missing(caller, SLUG)
    return await shown_domain(services, caller, domain_id, findings=found)


@post("/domains/{domain_id:str}/verify", status_code=200)
async def verify(
    request: AnyRequest, services: NamedDependency[Services], domain_id: FromPath[str]
) -> Any:
    """Verify's answer is the page with each record's result: what DNS says now is not kept,
    so it is shown in this response rather than after a redirect."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, _ = posted
    try:
        checked = await services.domains.verify(caller.principal.account_id, domain_id)
    except NotFound:
        return missing(caller, SLUG)
    except ScaiSendError as exc:
        return await shown_domain(services, caller, domain_id, 409, error=exc.message)
    return domain_detail(caller, checked, verified_now=True)


async def shown_domain(
    services: Services,
    caller: UiCaller,
    domain_id: str,
    status: int = 200,
    *,
    findings: list[Finding] | None = None,
    error: str = "",
) -> Any:
    try:
        found = await services.domains.get(caller.principal.account_id, domain_id)
    except NotFound:
        return missing(caller, SLUG)
    return domain_detail(caller, found, status, findings=findings, error=error)


def domain_detail(
    caller: UiCaller,
    domain: DomainView,
    status: int = 200,
    *,
    verified_now: bool = False,
    findings: list[Finding] | None = None,
    error: str = "",
) -> Any:
    return page(
        "domain.html",
        caller,
        status,
        title=f"{domain.domain} · Domains",
        current=SLUG,
        domain=domain,
        records=[record_row(r, domain.verified) for r in domain.dns_records],
        verified_now=verified_now,
        findings=findings,
        overall=worst(findings) if findings is not None else "",
        error=error,
    )


HANDLERS = [domains, add_domain, domain_page, deliverability, verify]
