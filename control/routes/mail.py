"""`POST /v3/mail/send`: 202 with `{"message_id"}` and `X-Message-Id` once spooled; in
sandbox mode (mail_settings.sandbox_mode.enable) 200 with an empty body, nothing queued."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, post
from litestar.di import NamedDependency

from control.routes.common import read_body
from control.services import Services
from mta.services.identity import Principal
from mta.submission.send_request.request import MailSend


@post("/v3/mail/send", status_code=202, opt={"scope": "mail.send"})
async def mail_send(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> Response[dict[str, str] | bytes]:
    body = await read_body(request, MailSend)
    message_id = await services.intake.send(principal, body)
    if message_id is None:
        return Response(b"", status_code=200, media_type=MediaType.TEXT)
    return Response(
        {"message_id": message_id}, status_code=202, headers={"X-Message-Id": message_id}
    )


ROUTES = [mail_send]
