"""The templates service on a real SQLite database: ids, one active version, plain text
derived from HTML, duplication, paging, per-account isolation, and what a send reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from mta.core.errors import Conflict, NotFound, ValidationError
from mta.db.models import TemplateVersion
from mta.services.template_views import VersionFields, page_offset, page_token
from mta.services.templates import TemplateService

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def service(sessions: Any) -> TemplateService:
    return TemplateService(sessions)


def fields(**values: Any) -> VersionFields:
    values.setdefault("name", "v")
    values.setdefault("subject", "Hi {{name}}")
    return VersionFields(**values)


async def actives(service: TemplateService, template_id: str) -> list[str]:
    view = await service.get("acme", template_id)
    return [v.name for v in view.versions if v.active == 1]


async def test_ids_follow_sendgrid_by_generation(service: TemplateService) -> None:
    dynamic = await service.create("acme", "Welcome", "dynamic")
    legacy = await service.create("acme", "Old", "legacy")
    assert re.fullmatch(r"d-[0-9a-f]{32}", dynamic.id)
    assert UUID.match(legacy.id)
    assert dynamic.generation == "dynamic" and legacy.generation == "legacy"
    assert TIME.match(dynamic.updated_at) and dynamic.versions == []


async def test_chosen_ids_are_unique_per_account_only(service: TemplateService) -> None:
    await service.create("acme", "Welcome", "dynamic", "d-welcome")
    with pytest.raises(Conflict):
        await service.create("acme", "Again", "dynamic", "d-welcome")
    theirs = await service.create("other", "Theirs", "dynamic", "d-welcome")
    assert theirs.id == "d-welcome"
    assert (await service.get("acme", "d-welcome")).name == "Welcome"
    with pytest.raises(ValidationError) as bad:
        await service.create("acme", "x", "dynamic", "../etc")
    assert bad.value.field == "id"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_template_names_are_checked(service: TemplateService, name: str) -> None:
    with pytest.raises(ValidationError) as failure:
        await service.create("acme", name, "dynamic")
    assert failure.value.field == "name"


async def test_first_version_is_active_and_activation_moves(service: TemplateService) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    first = await service.add_version("acme", tid, fields(name="one", active=False))
    assert first.active == 1
    second = await service.add_version("acme", tid, fields(name="two"))
    assert second.active == 0 and await actives(service, tid) == ["one"]
    third = await service.add_version("acme", tid, fields(name="three", active=True))
    assert third.active == 1 and await actives(service, tid) == ["three"]
    activated = await service.activate("acme", tid, second.id)
    assert activated.active == 1 and await actives(service, tid) == ["two"]
    assert (await service.activate("acme", tid, second.id)).active == 1
    await service.update_version("acme", tid, first.id, VersionFields(active=True))
    assert await actives(service, tid) == ["one"]
    assert (await service.active_version("acme", tid)).id == first.id


async def test_the_active_version_stays_until_another_is_activated(
    service: TemplateService,
) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    one = await service.add_version("acme", tid, fields(name="one"))
    two = await service.add_version("acme", tid, fields(name="two"))
    with pytest.raises(ValidationError) as deactivate:
        await service.update_version("acme", tid, one.id, VersionFields(active=False))
    assert deactivate.value.field == "active"
    with pytest.raises(ValidationError) as delete:
        await service.delete_version("acme", tid, one.id)
    assert delete.value.field == "version_id"
    await service.delete_version("acme", tid, two.id)
    await service.delete_version("acme", tid, one.id)
    assert (await service.get("acme", tid)).versions == []
    with pytest.raises(ValidationError) as none:
        await service.active_version("acme", tid)
    assert none.value.field == "template_id"


async def test_the_database_refuses_two_active_versions(
    service: TemplateService, sessions: Any
) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    await service.add_version("acme", tid, fields(name="one"))
    await service.add_version("acme", tid, fields(name="two"))
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                update(TemplateVersion).where(TemplateVersion.name == "two").values(active=True)
            )


async def test_version_fields_and_plain_text(service: TemplateService) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    html = '<p>Hello {{name}}</p><p>Go <a href="{{url}}">here</a></p>'
    made = await service.add_version(
        "acme", tid, fields(html_content=html, editor="design", test_data='{"name": "A"}')
    )
    assert made.plain_content == "Hello {{name}}\n\nGo here ({{url}})"
    assert made.generate_plain_content is True and made.editor == "design"
    assert made.test_data == '{"name": "A"}' and UUID.match(made.id)
    kept = await service.add_version(
        "acme", tid, fields(html_content=html, plain_content="Mine", generate_plain_content=True)
    )
    assert kept.plain_content == "Mine"
    empty = await service.add_version(
        "acme", tid, fields(html_content=html, generate_plain_content=False)
    )
    assert empty.plain_content == ""
    patched = await service.update_version(
        "acme", tid, made.id, VersionFields(html_content="<h1>New {{name}}</h1>")
    )
    assert patched.plain_content == "New {{name}}"
    assert patched.subject == "Hi {{name}}" and patched.test_data == '{"name": "A"}'
    mine = await service.update_version(
        "acme", tid, kept.id, VersionFields(html_content="<h1>Other</h1>")
    )
    assert mine.plain_content == "Mine"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": None}, "name"),
        ({"subject": None}, "subject"),
        ({"name": "x" * 101}, "name"),
        ({"subject": "x" * 256}, "subject"),
        ({"html_content": "x" * 1_048_577}, "html_content"),
        ({"test_data": "{not json"}, "test_data"),
        ({"test_data": "[1, 2]"}, "test_data"),
        ({"html_content": "{{#if a}}open"}, "html_content"),
        ({"subject": "{{"}, "subject"),
        ({"plain_content": "{{/each}}"}, "plain_content"),
    ],
)
async def test_invalid_versions_are_refused(
    service: TemplateService, values: dict[str, Any], field: str
) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    with pytest.raises(ValidationError) as failure:
        await service.add_version("acme", tid, fields(**values))
    assert failure.value.field == field


async def test_legacy_versions_are_not_parsed_as_handlebars(service: TemplateService) -> None:
    tid = (await service.create("acme", "Old", "legacy")).id
    made = await service.add_version(
        "acme", tid, fields(subject="<%subject%> {{", html_content="<%body%>")
    )
    assert made.subject == "<%subject%> {{"


async def test_duplicate_copies_versions_under_a_new_id(service: TemplateService) -> None:
    source = await service.create("acme", "Welcome", "dynamic")
    await service.add_version("acme", source.id, fields(name="one"))
    await service.add_version("acme", source.id, fields(name="two", active=True))
    copy = await service.duplicate("acme", source.id, None)
    assert copy.id != source.id and copy.id.startswith("d-")
    assert copy.name == "Welcome Copy" and copy.generation == "dynamic"
    assert [(v.name, v.active) for v in copy.versions] == [("one", 0), ("two", 1)]
    assert all(v.template_id == copy.id for v in copy.versions)
    original = await service.get("acme", source.id)
    assert {v.id for v in original.versions}.isdisjoint({v.id for v in copy.versions})
    named = await service.duplicate("acme", source.id, "Second")
    assert named.name == "Second"
    with pytest.raises(NotFound):
        await service.duplicate("other", source.id, None)


async def test_rename_and_delete(service: TemplateService, sessions: Any) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    await service.add_version("acme", tid, fields())
    assert (await service.rename("acme", tid, "Renamed")).name == "Renamed"
    with pytest.raises(NotFound):
        await service.rename("other", tid, "Mine now")
    with pytest.raises(NotFound):
        await service.delete("other", tid)
    await service.delete("acme", tid)
    with pytest.raises(NotFound):
        await service.get("acme", tid)
    async with sessions() as session:
        assert list(await session.scalars(select(TemplateVersion))) == []


async def test_accounts_see_only_their_templates(service: TemplateService) -> None:
    tid = (await service.create("acme", "T", "dynamic")).id
    version = await service.add_version("acme", tid, fields())
    calls = [
        service.get("other", tid),
        service.get_version("other", tid, version.id),
        service.update_version("other", tid, version.id, VersionFields(name="x")),
        service.activate("other", tid, version.id),
        service.delete_version("other", tid, version.id),
        service.add_version("other", tid, fields()),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call
    with pytest.raises(ValidationError):
        await service.active_version("other", tid)
    other = (await service.create("other", "Theirs", "dynamic")).id
    with pytest.raises(NotFound):  # a version is reached only through its own template
        await service.get_version("other", other, version.id)
    assert (await service.get_version("acme", tid, version.id)).id == version.id


async def test_pages_of_templates(service: TemplateService) -> None:
    ids = [(await service.create("acme", f"d{i}", "dynamic")).id for i in range(5)]
    legacy = (await service.create("acme", "legacy", "legacy")).id
    await service.create("other", "not mine", "dynamic")
    await service.add_version("acme", ids[0], fields())
    first = await service.list_page("acme", ["dynamic"], 2, 0)
    assert first.count == 5 and [t.id for t in first.templates] == ids[:2]
    assert len(first.templates[0].versions) == 1 and first.templates[1].versions == []
    last = await service.list_page("acme", ["dynamic"], 2, 4)
    assert [t.id for t in last.templates] == ids[4:]
    both = await service.list_page("acme", ["legacy", "dynamic"], 200, 0)
    assert both.count == 6 and legacy in [t.id for t in both.templates]
    only_legacy = await service.list_page("acme", ["legacy"], 10, 0)
    assert [t.id for t in only_legacy.templates] == [legacy]


@pytest.mark.parametrize("offset", [0, 1, 199, 10_000])
def test_page_tokens_round_trip(offset: int) -> None:
    assert page_offset(page_token(offset)) == offset


@pytest.mark.parametrize("token", ["x", "bzEx!", page_token(3)[:-1] + "@", "LTE"])
def test_foreign_page_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError) as failure:
        page_offset(token)
    assert failure.value.field == "page_token"


async def test_sends_see_changes_at_once(service: TemplateService) -> None:
    with pytest.raises(ValidationError):
        await service.active_version("acme", "d-later")  # remembered as missing …
    await service.create("acme", "Later", "dynamic", "d-later")
    one = await service.add_version("acme", "d-later", fields(subject="one"))
    assert (await service.active_version("acme", "d-later")).subject == "one"  # … until made
    await service.update_version("acme", "d-later", one.id, VersionFields(subject="edited"))
    assert (await service.active_version("acme", "d-later")).subject == "edited"
    two = await service.add_version("acme", "d-later", fields(subject="two", active=True))
    assert (await service.active_version("acme", "d-later")).id == two.id
    await service.activate("acme", "d-later", one.id)
    assert (await service.active_version("acme", "d-later")).id == one.id
    await service.delete("acme", "d-later")
    with pytest.raises(ValidationError):
        await service.active_version("acme", "d-later")
