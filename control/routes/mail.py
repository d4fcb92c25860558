"""`POST /v3/mail/send`: 202 with `{"message_id"}` and `X-Message-Id` once spooled."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from control.routes.common import read_body
from mta.intake.request import MailSend
from mta.services.container import Services
from mta.services.identity import Principal


@post("/v3/mail/send", status_code=202)
async def mail_send(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> Response[dict[str, str]]:
    principal.require("mail.send")
    body = await read_body(request, MailSend)
    message_id = await services.intake.send(principal, body)
    return Response(
        {"message_id": message_id}, status_code=202, headers={"X-Message-Id": message_id}
    )


ROUTES = [mail_send]
