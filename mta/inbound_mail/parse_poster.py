"""Posts stored Inbound Parse mail to each setting's URL as SendGrid's multipart form, through
the webhook guard (SSRF-pinned connections), with DKIM, SPF, DMARC and spamd verdicts; one loop per
worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import dns.resolver

from mta.core.dns import NxDomain, Resolver
from mta.inbound_mail.authcheck import AuthCheck, check_authentication
from mta.inbound_mail.dmarc_verdict import organizational, record_tags, verdict
from mta.inbound_mail.parse_form import Verdicts, encoded, form_of
from mta.inbound_mail.parse_inbox import Attempt, Claimed, ParseInbox
from mta.inbound_mail.spamd import SpamdError, scan
from mta.inbound_mail.spf_check import spf_result
from mta.webhooks import WebhookClient

log = logging.getLogger(__name__)
BATCH = 8  # messages claimed and posted at once by one worker


class ParsePoster:
    def __init__(
        self,
        inbox: ParseInbox,
        client: WebhookClient,
        resolver: Resolver,
        spf_resolver: dns.resolver.Resolver,
        spamd: tuple[str, int] | None = None,
    ) -> None:
        self._inbox = inbox
        self._client = client
        self._resolver = resolver
        self._spf_resolver = spf_resolver  # pyspf's: synchronous, the same name servers
        self._spamd = spamd  # `[inbound] spamd`: scores mail whose setting has spam_check

    async def run(self) -> None:
        """Post what is due, then sleep until the next is due or new mail arrives; until
        cancelled (the client's connections are closed then)."""
        try:
            await self._rounds()
        finally:
            await self._client.close()

    async def _rounds(self) -> None:
        while True:
            try:
                claimed = await self._inbox.claim(BATCH)
                await asyncio.gather(*(self._post(message) for message in claimed))
                if len(claimed) == BATCH:
                    continue
                wait = await self._inbox.next_due_in()
            except Exception:
                log.exception("event=parse_post_round_failed")
                wait = 5.0
            self._inbox.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox.arrived.wait(), timeout=min(wait, 60.0))

    async def _post(self, message: Claimed) -> None:
        if not message.url:
            error = f"no parse setting for {message.hostname} any more"
            await self._inbox.record(Attempt(message.id, None, error))
            return
        verdicts = await self.verdicts(message)
        form = await asyncio.to_thread(
            form_of, message.raw, message.envelope, verdicts, message.send_raw
        )
        body, content_type = await asyncio.to_thread(encoded, form)
        headers = {"Content-Type": content_type, "User-Agent": "ScaiSend-Inbound-Parse/1"}
        answer = await self._client.post(message.url, body, headers)
        attempt = Attempt(message.id, answer.status, answer.error or "")
        log.info(
            "event=parse_posted id=%s host=%s status=%s error=%r",
            message.id,
            message.hostname,
            answer.status,
            answer.error or "",
        )
        await self._inbox.record(attempt)

    async def verdicts(self, message: Claimed) -> Verdicts:
        """DKIM as SendGrid writes it (`{@domain : pass}`) and the SPF result for the
        envelope sender's domain and the client's address."""
        try:
            auth = await check_authentication(message.raw, self._resolver)
        except Exception:
            log.warning("event=parse_dkim_check_failed id=%s", message.id, exc_info=True)
            auth = AuthCheck(dkim="temperror")
        dkim = f"{{@{auth.dkim_domain} : {auth.dkim}}}" if auth.dkim_domain else auth.dkim
        spf, (score, report) = await self._spf(message), await self._spam(message)
        dmarc = await self._dmarc(message, auth, spf)
        return Verdicts(dkim=dkim, spf=spf, dmarc=dmarc, spam_score=score, spam_report=report)

    async def _dmarc(self, message: Claimed, auth: AuthCheck, spf: str) -> str:
        if not auth.from_domain:
            return "none"
        try:
            records = await self._txt(f"_dmarc.{auth.from_domain}")
            org = organizational(auth.from_domain)
            if not record_tags(records) and org != auth.from_domain.lower():
                records = await self._txt(f"_dmarc.{org}")
        except Exception as exc:
            log.warning("event=parse_dmarc_lookup_failed id=%s error=%r", message.id, str(exc))
            return "temperror"
        spf_domain = message.envelope.mail_from.rpartition("@")[2]
        return verdict(records, auth.from_domain, spf, spf_domain, auth.dkim_passed).field()

    async def _spam(self, message: Claimed) -> tuple[str | None, str | None]:
        """(score, report) from spamd when the setting asks for them; a scan that fails is
        reported in the fields, never holds the post back."""
        if not message.spam_check or self._spamd is None:
            return None, None
        try:
            verdict = await scan(*self._spamd, message.raw)
        except (SpamdError, OSError, TimeoutError) as exc:
            log.warning("event=spamd_failed id=%s error=%r", message.id, str(exc))
            return "0.0", f"not scanned: spamd failed ({exc.__class__.__name__})"
        return verdict.score, verdict.report

    async def _txt(self, name: str) -> list[str]:
        try:
            return await self._resolver.txt(name)
        except NxDomain:
            return []

    async def _spf(self, message: Claimed) -> str:
        envelope = message.envelope
        if "@" not in envelope.mail_from or not envelope.sender_ip:
            return "none"  # the null sender: its HELO name is not kept
        return await spf_result(self._spf_resolver, envelope.sender_ip, envelope.mail_from, "")
