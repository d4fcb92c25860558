"""Transactional templates and their versions (one active); dynamic ids are `d-` + 32 hex."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.db.models import Template, TemplateVersion
from mta.errors import Conflict, NotFound, ValidationError

Generation = Literal["legacy", "dynamic"]
TEMPLATE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class VersionView(msgspec.Struct, kw_only=True):
    id: str
    template_id: str
    name: str
    subject: str
    html_content: str
    plain_content: str
    active: int
    updated_at: str


class TemplateView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    generation: Generation
    updated_at: str
    versions: list[VersionView]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _version_view(row: TemplateVersion) -> VersionView:
    return VersionView(
        id=row.id,
        template_id=row.template_id,
        name=row.name,
        subject=row.subject,
        html_content=row.html_content,
        plain_content=row.plain_content,
        active=int(row.active),
        updated_at=_iso(row.updated_at),
    )


def new_template_id(generation: Generation) -> str:
    return ("d-" if generation == "dynamic" else "") + secrets.token_hex(16)


class TemplateService:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def create(
        self, account_id: str, name: str, generation: Generation, template_id: str | None = None
    ) -> TemplateView:
        if not name.strip():
            raise ValidationError("name is required", field="name")
        if template_id is not None and not TEMPLATE_ID_RE.match(template_id):
            raise ValidationError("invalid template id", field="id")
        now = time.time()
        row = Template(
            id=template_id or new_template_id(generation),
            account_id=account_id,
            name=name,
            generation=generation,
            created_at=now,
            updated_at=now,
        )
        async with self._sessions() as session:
            if await session.get(Template, row.id) is not None:
                raise Conflict(f"template {row.id} already exists", field="id")
            session.add(row)
            await session.commit()
        return TemplateView(
            id=row.id, name=row.name, generation=generation, updated_at=_iso(now), versions=[]
        )

    async def _template(self, session: Any, account_id: str, template_id: str) -> Template:
        row: Template | None = await session.get(Template, template_id)
        if row is None or row.account_id != account_id:
            raise NotFound(f"template {template_id} not found", field="template_id")
        return row

    async def get(self, account_id: str, template_id: str) -> TemplateView:
        async with self._sessions() as session:
            row = await self._template(session, account_id, template_id)
            versions = await session.scalars(
                select(TemplateVersion)
                .where(TemplateVersion.template_id == template_id)
                .order_by(TemplateVersion.created_at)
            )
            generation: Generation = "dynamic" if row.generation == "dynamic" else "legacy"
            return TemplateView(
                id=row.id,
                name=row.name,
                generation=generation,
                updated_at=_iso(row.updated_at),
                versions=[_version_view(v) for v in versions],
            )

    async def add_version(
        self,
        account_id: str,
        template_id: str,
        *,
        name: str,
        subject: str,
        html_content: str,
        plain_content: str,
        active: bool | None,
    ) -> VersionView:
        now = time.time()
        async with self._sessions() as session:
            await self._template(session, account_id, template_id)
            existing = await session.scalar(
                select(TemplateVersion.id)
                .where(TemplateVersion.template_id == template_id)
                .limit(1)
            )
            make_active = existing is None or bool(active)
            if make_active:
                await session.execute(
                    update(TemplateVersion)
                    .where(TemplateVersion.template_id == template_id)
                    .values(active=False)
                )
            row = TemplateVersion(
                id=secrets.token_hex(16),
                template_id=template_id,
                name=name,
                subject=subject,
                html_content=html_content,
                plain_content=plain_content,
                active=make_active,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.commit()
            return _version_view(row)

    async def active_version(self, account_id: str, template_id: str) -> VersionView:
        async with self._sessions() as session:
            await self._template(session, account_id, template_id)
            row = await session.scalar(
                select(TemplateVersion).where(
                    TemplateVersion.template_id == template_id, TemplateVersion.active.is_(True)
                )
            )
        if row is None:
            raise ValidationError(
                f"template {template_id} has no active version", field="template_id"
            )
        return _version_view(row)
