"""The install's keys sealing secrets at rest (mta/db/sealed.py): `[storage] secrets_keys`,
else the keys file `data_dir/secrets_keys` (one key a line, the first sealing), made 0600
with one new key on first start. Nodes sharing a database need the same keys."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from mta.db.sealed import Sealer, new_sealing_key
from mta.server.key_files import read_keys_file

KEYS_FILE = "secrets_keys"


def sealer_for(settings: Settings) -> Sealer:
    if settings.storage.secrets_keys:
        return Sealer(settings.storage.secrets_keys)
    path = Path(settings.storage.data_dir) / KEYS_FILE
    try:
        return Sealer(read_keys_file(path, new_sealing_key))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
