"""Secrets sealed at rest: columns of type SealedText (DKIM private keys, webhook signing
secrets and keys, OAuth client secrets) are stored encrypted with the install's keys
(Fernet: AES-128-CBC with an HMAC-SHA256), so the database or a backup alone gives none away.

The Sealer travels with the engine (`seal_with`); reading a sealed value through an engine
without one raises. A value stored before sealing existed is read as it is, and `reseal`
rewrites it (and any value sealed by a key no longer first) when the server starts.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, MetaData, Text, select, table, update
from sqlalchemy import column as sa_column
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

PREFIX = "sealed:v1:"
DIALECT_ATTRIBUTE = "scaisend_sealer"
OPENED_CACHE = 4096  # opened values kept: the outbox and signing read the same few often


class SealError(RuntimeError):
    """A sealed value none of the keys opens, or an engine without a Sealer."""


def new_sealing_key() -> str:
    return Fernet.generate_key().decode()


class Sealer:
    """Seals with the first key and opens with any (so a new key can go first while values
    sealed with the old one are still read, until `reseal` has rewritten them)."""

    def __init__(self, keys: list[str] | tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        try:
            self._first = Fernet(keys[0])
            self._all = MultiFernet([Fernet(key) for key in keys])
        except ValueError:
            raise ValueError("each key is 32 bytes in URL-safe base64 (44 characters)") from None
        self._opened: OrderedDict[str, str] = OrderedDict()

    def seal(self, value: str) -> str:
        return PREFIX + self._first.encrypt(value.encode()).decode()

    def open(self, stored: str) -> str:
        """The value of a sealed string; a string stored before sealing, as it is."""
        if not stored.startswith(PREFIX):
            return stored
        opened = self._opened.get(stored)
        if opened is not None:
            self._opened.move_to_end(stored)
            return opened
        try:
            opened = self._all.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealError(
                "a sealed secret in the database opens with none of the configured keys "
                "([storage] secrets_keys or data_dir/secrets_keys)"
            ) from None
        self._opened[stored] = opened
        if len(self._opened) > OPENED_CACHE:
            self._opened.popitem(last=False)
        return opened

    def current(self, stored: str) -> bool:
        """Whether `stored` is sealed with the first key (nothing for `reseal` to do)."""
        if not stored.startswith(PREFIX):
            return False
        try:
            self._first.decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True


def seal_with(engine: AsyncEngine, sealer: Sealer) -> AsyncEngine:
    setattr(engine.sync_engine.dialect, DIALECT_ATTRIBUTE, sealer)
    return engine


def sealer_of(dialect: Dialect) -> Sealer:
    sealer = getattr(dialect, DIALECT_ATTRIBUTE, None)
    if not isinstance(sealer, Sealer):
        raise SealError("this database engine has no keys for sealed secrets (seal_with)")
    return sealer


class SealedText(TypeDecorator[str]):
    """Text stored sealed; read and written as plain text through an engine with a Sealer."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else sealer_of(dialect).seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else sealer_of(dialect).open(str(value))


def sealed_columns(metadata: MetaData) -> list[tuple[str, str, str]]:
    """(table, its primary key column, the sealed column) for every SealedText column of
    the models, so that a column sealed later is resealed too."""
    found = []
    for name, model in metadata.tables.items():
        sealed = [c.name for c in model.columns if isinstance(c.type, SealedText)]
        if sealed:
            [key] = model.primary_key.columns  # every sealed table has a one-column key
            found += [(name, key.name, column) for column in sealed]
    return sorted(found)


async def reseal(engine: AsyncEngine, metadata: MetaData) -> int:
    """Seal with the first key every value of `metadata`'s sealed columns stored in the clear
    or with another key; how many were rewritten. Run at start-up, after the schema upgrade
    (idempotent, several nodes may run it at once: each writes the same value's sealing)."""
    sealer = sealer_of(engine.sync_engine.dialect)
    rewritten = 0
    async with engine.begin() as connection:
        for name, key, column in sealed_columns(metadata):
            raw = table(name, sa_column(key), sa_column(column))  # untyped: the stored text
            rows = await connection.execute(
                select(raw.c[key], raw.c[column]).where(raw.c[column].is_not(None))
            )
            for row_key, stored in rows.all():
                if sealer.current(stored):
                    continue
                await connection.execute(
                    update(raw)
                    .where(raw.c[key] == row_key)
                    .values({column: sealer.seal(sealer.open(stored))})
                )
                rewritten += 1
    return rewritten
