"""Transactional templates and their versions, per account: create, list, rename, duplicate,
delete; versions with exactly one active (the first, or the last activated). Sending reads
the active version through a short cache that every change here clears."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import Conflict, NotFound, ValidationError
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import Template, TemplateVersion
from mta.handlebars.render import check
from mta.services.plaintext import html_to_text
from mta.services.template_views import (
    NAME_MAX,
    Generation,
    TemplatePage,
    TemplateView,
    VersionFields,
    VersionView,
    check_name,
    check_template_id,
    check_version_fields,
    generation_of,
    new_template_id,
    new_version_id,
    template_view,
    version_view,
)

__all__ = ["TemplateService", "TemplateView", "VersionFields", "VersionView"]

# Another node's edit reaches sends here within this many seconds; this node's at once.
ACTIVE_CACHE_SECONDS = SHARED_CACHE_SECONDS
ActiveKey = tuple[str, str]


def plain_for(html: str, plain: str, generate: bool) -> str:
    """The plain text to store: derived from the HTML when asked to and none was given."""
    return html_to_text(html) if generate and not plain.strip() else plain


def check_parts(fields: VersionFields) -> None:
    """A dynamic template's parts must parse as Handlebars before they are stored (run in a
    thread: a part may be a megabyte, too long a parse for the event loop)."""
    for part in ("subject", "html_content", "plain_content"):
        source = getattr(fields, part)
        if source:
            check(source, part=part)


class TemplateService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._active: TtlCache[ActiveKey, VersionView | None] = TtlCache(
            ACTIVE_CACHE_SECONDS, clock=self._clock
        )

    # -- templates -------------------------------------------------------------------

    async def create(
        self, account_id: str, name: str, generation: Generation, template_id: str | None = None
    ) -> TemplateView:
        check_name(name)
        now = self._clock.time()
        row = Template(
            id=check_template_id(template_id) if template_id else new_template_id(generation),
            account_id=account_id,
            name=name,
            generation=generation,
            created_at=now,
            updated_at=now,
        )
        async with self._sessions() as session:
            if await session.get(Template, (account_id, row.id)) is not None:
                raise Conflict(f"template {row.id} already exists", field="id")
            session.add(row)
            await session.commit()
        self._active.forget((account_id, row.id))
        return template_view(row, [])

    async def _template(
        self, session: Any, account_id: str, template_id: str, *, lock: bool = False
    ) -> Template:
        query = select(Template).where(
            Template.account_id == account_id, Template.id == template_id
        )
        row: Template | None = await session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(f"template {template_id} not found", field="template_id")
        return row

    async def _versions(
        self, session: Any, account_id: str, template_ids: list[str]
    ) -> list[TemplateVersion]:
        rows = await session.scalars(
            select(TemplateVersion)
            .where(
                TemplateVersion.account_id == account_id,
                TemplateVersion.template_id.in_(template_ids),
            )
            .order_by(TemplateVersion.created_at, TemplateVersion.id)
        )
        return list(rows)

    async def get(self, account_id: str, template_id: str) -> TemplateView:
        async with self._sessions() as session:
            row = await self._template(session, account_id, template_id)
            return template_view(row, await self._versions(session, account_id, [row.id]))

    async def list_page(
        self, account_id: str, generations: list[Generation], page_size: int, offset: int
    ) -> TemplatePage:
        where = (Template.account_id == account_id, Template.generation.in_(generations))
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Template).where(*where))
            rows = list(
                await session.scalars(
                    select(Template)
                    .where(*where)
                    .order_by(Template.created_at, Template.id)
                    .offset(offset)
                    .limit(page_size)
                )
            )
            versions = await self._versions(session, account_id, [r.id for r in rows])
        views = [template_view(r, [v for v in versions if v.template_id == r.id]) for r in rows]
        return TemplatePage(templates=views, count=int(count or 0), offset=offset)

    async def rename(self, account_id: str, template_id: str, name: str) -> TemplateView:
        check_name(name)
        async with self._sessions() as session:
            row = await self._template(session, account_id, template_id, lock=True)
            row.name, row.updated_at = name, self._clock.time()
            versions = await self._versions(session, account_id, [row.id])
            await session.commit()
            return template_view(row, versions)

    async def delete(self, account_id: str, template_id: str) -> None:
        async with self._sessions() as session:
            row = await self._template(session, account_id, template_id, lock=True)
            for version in await self._versions(session, account_id, [row.id]):
                await session.delete(version)
            await session.flush()
            await session.delete(row)
            await session.commit()
        self._active.forget((account_id, template_id))

    async def duplicate(self, account_id: str, template_id: str, name: str | None) -> TemplateView:
        """A new template (new id, same generation) with copies of every version."""
        async with self._sessions() as session:
            source = await self._template(session, account_id, template_id)
            versions = await self._versions(session, account_id, [source.id])
            now = self._clock.time()
            copy = Template(
                id=new_template_id(generation_of(source)),
                account_id=account_id,
                name=check_name(name) if name is not None else f"{source.name} Copy"[:NAME_MAX],
                generation=source.generation,
                created_at=now,
                updated_at=now,
            )
            copies = [_copy_version(v, copy.id, now) for v in versions]
            session.add(copy)
            await session.flush()
            session.add_all(copies)
            await session.commit()
            return template_view(copy, copies)

    # -- versions --------------------------------------------------------------------

    async def add_version(
        self, account_id: str, template_id: str, fields: VersionFields
    ) -> VersionView:
        """A new version; active when asked or when it is the template's first."""
        check_version_fields(fields)
        for required in ("name", "subject"):
            if getattr(fields, required) is None:
                raise ValidationError(f"{required} is required", field=required)
        now = self._clock.time()
        async with self._sessions() as session:
            template = await self._template(session, account_id, template_id, lock=True)
            if template.generation == "dynamic":
                await asyncio.to_thread(check_parts, fields)
            first = not await self._versions(session, account_id, [template_id])
            make_active = first or bool(fields.active)
            if make_active:
                await self._deactivate_others(session, account_id, template_id, None)
            row = _new_version(account_id, template_id, fields, now, active=make_active)
            session.add(row)
            template.updated_at = now
            await session.commit()
        self._active.forget((account_id, template_id))
        return version_view(row)

    async def _version(
        self, session: Any, account_id: str, template_id: str, version_id: str
    ) -> TemplateVersion:
        row: TemplateVersion | None = await session.get(TemplateVersion, version_id)
        if row is None or (row.account_id, row.template_id) != (account_id, template_id):
            raise NotFound(f"template version {version_id} not found", field="version_id")
        return row

    async def get_version(self, account_id: str, template_id: str, version_id: str) -> VersionView:
        async with self._sessions() as session:
            await self._template(session, account_id, template_id)
            return version_view(await self._version(session, account_id, template_id, version_id))

    async def update_version(
        self, account_id: str, template_id: str, version_id: str, fields: VersionFields
    ) -> VersionView:
        check_version_fields(fields)
        async with self._sessions() as session:
            template = await self._template(session, account_id, template_id, lock=True)
            row = await self._version(session, account_id, template_id, version_id)
            if template.generation == "dynamic":
                await asyncio.to_thread(check_parts, fields)
            if fields.active is False and row.active:
                raise ValidationError(
                    "a template keeps one active version: activate another version instead",
                    field="active",
                )
            if fields.active and not row.active:
                await self._deactivate_others(session, account_id, template_id, row.id)
                row.active = True
            _apply(row, fields)
            row.updated_at = template.updated_at = self._clock.time()
            await session.commit()
        self._active.forget((account_id, template_id))
        return version_view(row)

    async def activate(self, account_id: str, template_id: str, version_id: str) -> VersionView:
        async with self._sessions() as session:
            template = await self._template(session, account_id, template_id, lock=True)
            row = await self._version(session, account_id, template_id, version_id)
            if not row.active:
                await self._deactivate_others(session, account_id, template_id, row.id)
                row.active = True
                row.updated_at = template.updated_at = self._clock.time()
            await session.commit()
        self._active.forget((account_id, template_id))
        return version_view(row)

    async def delete_version(self, account_id: str, template_id: str, version_id: str) -> None:
        """Refused for the active version while others remain (one stays active)."""
        async with self._sessions() as session:
            template = await self._template(session, account_id, template_id, lock=True)
            row = await self._version(session, account_id, template_id, version_id)
            others = len(await self._versions(session, account_id, [template_id])) - 1
            if row.active and others:
                raise ValidationError(
                    "the active version cannot be deleted: activate another version first",
                    field="version_id",
                )
            await session.delete(row)
            template.updated_at = self._clock.time()
            await session.commit()
        self._active.forget((account_id, template_id))

    async def _deactivate_others(
        self, session: Any, account_id: str, template_id: str, keep: str | None
    ) -> None:
        query = update(TemplateVersion).where(
            TemplateVersion.account_id == account_id,
            TemplateVersion.template_id == template_id,
            TemplateVersion.active.is_(True),
        )
        if keep is not None:
            query = query.where(TemplateVersion.id != keep)
        await session.execute(query.values(active=False))

    # -- sending ---------------------------------------------------------------------

    async def active_version(self, account_id: str, template_id: str) -> VersionView:
        """The version a send renders; a 400 naming `template_id` when there is none."""
        version = await self._active.get_or_load(
            (account_id, template_id), lambda: self._load_active(account_id, template_id)
        )
        if version is None:
            raise ValidationError(
                f"template {template_id} does not exist or has no active version",
                field="template_id",
            )
        return version

    async def _load_active(self, account_id: str, template_id: str) -> VersionView | None:
        async with self._sessions() as session:
            row: TemplateVersion | None = await session.scalar(
                select(TemplateVersion).where(
                    TemplateVersion.account_id == account_id,
                    TemplateVersion.template_id == template_id,
                    TemplateVersion.active.is_(True),
                )
            )
        return version_view(row) if row is not None else None


def _new_version(
    account_id: str, template_id: str, fields: VersionFields, now: float, *, active: bool
) -> TemplateVersion:
    generate = True if fields.generate_plain_content is None else fields.generate_plain_content
    html = fields.html_content or ""
    return TemplateVersion(
        id=new_version_id(),
        account_id=account_id,
        template_id=template_id,
        name=fields.name or "",
        subject=fields.subject or "",
        html_content=html,
        plain_content=plain_for(html, fields.plain_content or "", generate),
        generate_plain_content=generate,
        editor=fields.editor or "code",
        test_data=fields.test_data,
        active=active,
        created_at=now,
        updated_at=now,
    )


def _apply(row: TemplateVersion, fields: VersionFields) -> None:
    """Merge a PATCH; plain text derived before is derived again from changed HTML."""
    was_derived = row.plain_content == html_to_text(row.html_content)
    for name in ("name", "subject", "html_content", "editor", "test_data"):
        value = getattr(fields, name)
        if value is not None:
            setattr(row, name, value)
    if fields.generate_plain_content is not None:
        row.generate_plain_content = fields.generate_plain_content
    if fields.plain_content is not None:
        row.plain_content = fields.plain_content
    elif was_derived and row.generate_plain_content:
        row.plain_content = ""
    row.plain_content = plain_for(row.html_content, row.plain_content, row.generate_plain_content)


def _copy_version(row: TemplateVersion, template_id: str, now: float) -> TemplateVersion:
    return TemplateVersion(
        id=new_version_id(),
        account_id=row.account_id,
        template_id=template_id,
        name=row.name,
        subject=row.subject,
        html_content=row.html_content,
        plain_content=row.plain_content,
        generate_plain_content=row.generate_plain_content,
        editor=row.editor,
        test_data=row.test_data,
        active=row.active,
        created_at=row.created_at,
        updated_at=now,
    )
