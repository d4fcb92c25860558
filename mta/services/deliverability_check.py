"""The deliverability check's look-ups: asks the resolver (dnspython, async, with its timeout)
what a domain's DNS says, each check in its own time box and all at once, then hands the
answers to the pure findings of mta/services/deliverability."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mta.core.dns import DnsError, DnsTemporaryError, NxDomain, Resolver
from mta.services.asm_groups import AsmGroupService
from mta.services.deliverability import (
    Answer,
    Answers,
    Facts,
    Finding,
    PtrAnswer,
    Unsubscribe,
    findings,
)
from mta.services.domains import DomainService
from mta.services.spf import MAX_DEPTH, SpfWorld, followed, parse_terms, spf_records

CHECK_SECONDS = 8.0  # one check's look-ups together; the resolver bounds each one too
MAX_QUERIES = 40  # look-ups one SPF walk may make (receivers stop at 10 querying terms)
MAX_MX_HOSTS = 10  # RFC 7208 4.6.4: an mx term looks at ten MX names at most
MAX_SENDING_ADDRESSES = 4
T = TypeVar("T")


class DeliverabilityService:
    def __init__(
        self,
        domains: DomainService,
        resolver: Resolver,
        asm_groups: AsmGroupService,
        *,
        smtp_hostname: str,
        source_address: str,
        one_click_base_url: str,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._domains = domains
        self._resolver = resolver
        self._groups = asm_groups
        self._hostname = smtp_hostname.lower().rstrip(".")
        self._source = source_address
        self._base_url = one_click_base_url
        self._seconds = check_seconds

    async def check(self, account_id: str, domain_id: str) -> list[Finding]:
        """The findings for the account's domain (NotFound for another account's)."""
        row = await self._domains.get_row(account_id, domain_id)
        sending, sending_error = await self._sending_addresses()
        facts = Facts(
            domain=row.domain,
            return_path_host=row.return_path_host,
            dkim_host=f"{row.dkim_selector}._domainkey.{row.domain}",
            dkim_public_key=row.dkim_public_key,
            smtp_hostname=self._hostname,
            source_address=self._source,
            sending_addresses=sending,
        )
        answers = await self._answers(facts, sending_error)
        groups = len(await self._groups.list_groups(account_id))
        return findings(facts, answers, Unsubscribe(groups, self._base_url))

    async def _answers(self, facts: Facts, sending_error: str) -> Answers:
        domain, late = facts.domain, SpfWorld(errors=["timed out"])
        hosts = (facts.dkim_host, f"_dmarc.{domain}", f"_mta-sts.{domain}", f"_smtp._tls.{domain}")
        spf, txt, mx, ptr = await asyncio.gather(
            asyncio.gather(
                self._boxed(self._spf(domain), late),
                self._boxed(self._spf(facts.return_path_host), late),
            ),
            asyncio.gather(*(self._txt(host) for host in hosts)),
            asyncio.gather(self._mx(domain), self._mx(facts.return_path_host)),
            self._boxed(self._ptrs(facts.sending_addresses), []),
        )
        return Answers(
            spf_domain=spf[0],
            spf_return_path=spf[1],
            dkim=txt[0],
            dmarc=txt[1],
            domain_mx=mx[0],
            return_path_mx=mx[1],
            ptr=ptr,
            sending_error=sending_error,
            mta_sts=txt[2],
            tls_rpt=txt[3],
        )

    async def _boxed(self, work: Awaitable[T], late: T) -> T:
        try:
            async with asyncio.timeout(self._seconds):
                return await work
        except TimeoutError:
            return late

    async def _txt(self, name: str) -> Answer:
        return await self._boxed(_answer(lambda: self._resolver.txt(name)), TIMED_OUT)

    async def _mx(self, name: str) -> Answer:
        async def hosts() -> list[str]:
            return [f"{mx.preference} {mx.host}" for mx in await self._resolver.mx(name)]

        return await self._boxed(_answer(hosts), TIMED_OUT)

    async def _sending_addresses(self) -> tuple[list[str], str]:
        if self._source:
            return [self._source], ""
        found = await self._boxed(
            _answer(lambda: self._resolver.addresses(self._hostname)), TIMED_OUT
        )
        if found.error:
            return [], f"could not look up {self._hostname}: {found.error}"
        return found.values[:MAX_SENDING_ADDRESSES], ""

    async def _ptrs(self, addresses: list[str]) -> list[PtrAnswer]:
        return list(await asyncio.gather(*(self._ptr(a) for a in addresses)))

    async def _ptr(self, address: str) -> PtrAnswer:
        names = await _answer(lambda: self._resolver.ptr(address))
        if names.error:
            return PtrAnswer(address, error=names.error)
        forward = {}
        for name in names.values[:MAX_SENDING_ADDRESSES]:
            forward[name] = (await self._answer_addresses(name)).values
        return PtrAnswer(address, names.values, forward)

    async def _answer_addresses(self, name: str) -> Answer:
        return await _answer(lambda: self._resolver.addresses(name))

    async def _spf(self, domain: str) -> SpfWorld:
        return await SpfWalk(self._resolver).gather(domain)


class SpfWalk:
    """Every SPF record a domain's evaluation may read and the addresses behind its a and mx
    terms, breadth first, at most MAX_QUERIES look-ups and MAX_DEPTH levels deep."""

    def __init__(self, resolver: Resolver, max_queries: int = MAX_QUERIES) -> None:
        self._resolver = resolver
        self._budget = max_queries
        self.world = SpfWorld()

    async def gather(self, domain: str) -> SpfWorld:
        level = [domain]
        for _ in range(MAX_DEPTH + 1):
            following: list[str] = []
            for name in level:
                if name not in self.world.records and self._spend():
                    following += await self._record(name)
            level = following
            if not level:
                break
        return self.world

    def _spend(self) -> bool:
        if self._budget <= 0:
            return False
        self._budget -= 1
        return True

    async def _record(self, name: str) -> list[str]:
        found = await _answer(lambda: self._resolver.txt(name))
        if found.error:  # not asked: evaluate() says temperror, the finding says why
            self._noted(name, found)
            return []
        records = self.world.records[name] = spf_records(found.values)
        if len(records) != 1:
            return []
        terms = parse_terms(records[0], name)
        for term in terms:
            if term.modifier or term.name not in ("a", "mx") or not self._spend():
                continue
            if term.name == "a":
                self.world.addresses[term.target] = await self._addresses(term.target)
            else:
                self.world.addresses[f"mx:{term.target}"] = await self._mx_addresses(term.target)
        return followed(terms)

    def _noted(self, name: str, answer: Answer) -> list[str]:
        if answer.error:
            self.world.errors.append(f"{name}: {answer.error}")
        return answer.values

    async def _addresses(self, name: str) -> list[str]:
        return self._noted(name, await _answer(lambda: self._resolver.addresses(name)))

    async def _mx_addresses(self, name: str) -> list[str]:
        async def hosts() -> list[str]:
            return [mx.host for mx in await self._resolver.mx(name)]

        addresses: list[str] = []
        for host in self._noted(name, await _answer(hosts))[:MAX_MX_HOSTS]:
            if not self._spend():
                break
            addresses += await self._addresses(host)
        return addresses


TIMED_OUT = Answer(error="timed out")


async def _answer(ask: Callable[[], Awaitable[list[str]]]) -> Answer:
    """A look-up as an Answer: no such name is no records; a failure says which."""
    try:
        return Answer(await ask())
    except NxDomain:
        return Answer([])
    except DnsTemporaryError:
        return Answer(error="the DNS server failed or did not answer")
    except DnsError as exc:
        return Answer(error=exc.__class__.__name__)
