"""`GET /v3/user/events`: the account's event feed (ours, not SendGrid's), oldest first after a
cursor, narrowed by `event` (repeatable) and `email`; what `scaisend events tail` polls."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from control.services import Services
from mta.services.event_feed import DEFAULT_LIMIT, EventPage, feed_query
from mta.services.identity import Principal
from mta.services.messages import READ_ALL_SCOPES

# Every event of the account, whoever's mail it was: a key that may only send (mail.send)
# may not read them; the refusal names messages.read.
READ = {"scope": READ_ALL_SCOPES}


@get("/v3/user/events", opt=READ)
async def list_events(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    after: FromQuery[str | None] = None,
    start_time: FromQuery[int | None] = None,
    event: FromQuery[list[str] | None] = None,
    email: FromQuery[str | None] = None,
    limit: FromQuery[int] = DEFAULT_LIMIT,
) -> EventPage:
    wanted = feed_query(
        after=after, start_time=start_time, event_types=event or (), email=email, limit=limit
    )
    return await services.events.page(principal, wanted)


ROUTES = [list_events]
