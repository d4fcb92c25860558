"""Secrets sealed at rest, on a real database: what the ORM reads and writes is the plain
value while the stored text is sealed; a value stored before sealing, or sealed with a key
no longer first, is read and then resealed; an engine without keys, or with the wrong ones,
refuses to read; the keys file is made 0600 once."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select, text

from config.settings import Settings, StorageSettings
from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account, Base, Domain, Webhook
from mta.db.sealed import (
    PREFIX,
    Sealer,
    SealError,
    new_sealing_key,
    reseal,
    seal_with,
    sealed_columns,
)
from mta.server.secrets_keys import KEYS_FILE, sealer_for
from tests.support.databases import Database

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB...\n-----END PRIVATE KEY-----\n"


async def made(database: Database, directory: Path, sealer: Sealer | None) -> Any:
    engine = make_engine(database.engine_url(directory))
    await create_schema(engine)
    return seal_with(engine, sealer) if sealer is not None else engine


async def add_rows(engine: Any) -> None:
    async with make_sessionmaker(engine)() as session:
        session.add(Account(id="acme", name="acme", created_at=0.0))
        await session.flush()
        session.add(
            Domain(
                id="d1",
                account_id="acme",
                domain="mail.acme.example",
                dkim_selector="scaisend1",
                dkim_private_key=PEM,
                dkim_public_key="MIIB",
                return_path_host="bounces.mail.acme.example",
                dmarc_policy="none",
                dmarc_rua_email=None,
                created_at=0.0,
            )
        )
        session.add(
            Webhook(
                id="w1",
                account_id="acme",
                url="https://hooks.acme.example/",
                enabled_events=["delivered"],
                signing_secret="s" * 43,
                oauth_client_secret="client secret",
                created_at=0.0,
            )
        )
        await session.commit()


async def stored(engine: Any) -> list[str]:
    async with engine.connect() as connection:
        domain = await connection.scalar(text("SELECT dkim_private_key FROM domains"))
        hook = (
            await connection.execute(
                text("SELECT signing_secret, oauth_client_secret FROM webhooks")
            )
        ).one()
    return [domain, *hook]


async def read(engine: Any) -> list[str]:
    async with make_sessionmaker(engine)() as session:
        domain = await session.scalar(select(Domain))
        hook = await session.scalar(select(Webhook))
    assert domain is not None and hook is not None
    return [domain.dkim_private_key, hook.signing_secret, hook.oauth_client_secret or ""]


async def test_secrets_are_stored_sealed_and_read_plain(database: Database, tmp_path: Path) -> None:
    engine = await made(database, tmp_path, Sealer([new_sealing_key()]))
    try:
        await add_rows(engine)
        raw = await stored(engine)
        assert all(value.startswith(PREFIX) for value in raw)
        assert not any("PRIVATE KEY" in value or "s" * 43 in value for value in raw)
        assert await read(engine) == [PEM, "s" * 43, "client secret"]
    finally:
        await engine.dispose()


async def test_rotation_reseals_with_the_new_first_key(database: Database, tmp_path: Path) -> None:
    old, new = new_sealing_key(), new_sealing_key()
    engine = await made(database, tmp_path, Sealer([old]))
    await add_rows(engine)
    before = await stored(engine)
    await engine.dispose()

    engine = await made(database, tmp_path, Sealer([new, old]))
    try:
        assert await read(engine) == [PEM, "s" * 43, "client secret"]  # the old key opens
        assert await reseal(engine, Base.metadata) == 3
        assert await reseal(engine, Base.metadata) == 0  # nothing left to do
        after = await stored(engine)
        assert after != before
        only_new = await made(database, tmp_path, Sealer([new]))
        try:
            assert await read(only_new) == [PEM, "s" * 43, "client secret"]
        finally:
            await only_new.dispose()
    finally:
        await engine.dispose()


async def test_values_stored_before_sealing_are_read_then_sealed(
    database: Database, tmp_path: Path
) -> None:
    engine = await made(database, tmp_path, Sealer([new_sealing_key()]))
    try:
        await add_rows(engine)
        async with engine.begin() as connection:  # as an older release stored them
            await connection.execute(
                text("UPDATE domains SET dkim_private_key = :pem"), {"pem": PEM}
            )
        assert (await stored(engine))[0] == PEM
        assert (await read(engine))[0] == PEM
        assert await reseal(engine, Base.metadata) == 1
        assert (await stored(engine))[0].startswith(PREFIX)
        assert (await read(engine))[0] == PEM
    finally:
        await engine.dispose()


async def test_no_keys_or_the_wrong_keys_refuse_to_read(database: Database, tmp_path: Path) -> None:
    engine = await made(database, tmp_path, Sealer([new_sealing_key()]))
    await add_rows(engine)
    await engine.dispose()
    for sealer in (None, Sealer([new_sealing_key()])):
        other = await made(database, tmp_path, sealer)
        try:
            with pytest.raises(SealError):
                await read(other)
        finally:
            await other.dispose()


def test_every_sealed_column_of_the_models_is_resealed() -> None:
    assert sealed_columns(Base.metadata) == [
        ("domains", "id", "dkim_private_key"),
        ("webhook_signing_keys", "account_id", "private_key_pem"),
        ("webhooks", "id", "oauth_client_secret"),
        ("webhooks", "id", "signing_secret"),
    ]


def test_the_keys_file_is_made_once_and_private_and_configured_keys_win(tmp_path: Path) -> None:
    settings = Settings(storage=StorageSettings(data_dir=str(tmp_path)))
    first = sealer_for(settings)
    path = tmp_path / KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal("secret")
    assert sealer_for(settings).open(sealed) == "secret"  # the same key the next time
    key = new_sealing_key()
    configured = Settings(storage=StorageSettings(data_dir=str(tmp_path), secrets_keys=[key]))
    assert Sealer([key]).open(sealer_for(configured).seal("x")) == "x"
    with pytest.raises(msgspec.ValidationError, match="secrets_keys"):
        msgspec.convert({"secrets_keys": ["short"]}, StorageSettings)
