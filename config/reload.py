"""What a reload (SIGHUP) may change in a running server: which keys differ between the old and
the new Settings, which of them apply at once and which need a restart (kept at their old value).
"""

from __future__ import annotations

import msgspec

from config.settings import Settings

# Keys a running server takes over on reload; every other key needs a restart. A new key is
# restart-only until its component learns to take it over (the safe default).
RELOADABLE_SECTIONS = frozenset({"delivery", "log"})
RELOADABLE_KEYS = frozenset(
    {
        "http.rate_limit_per_second",
        "http.rate_limit_burst",
        "smtp.relay_networks",
        "smtp.relay_account",
        "smtp.max_connections",
        "smtp.max_connections_per_client",
        "smtp.max_messages_per_connection",
        "smtp.auth_failure_limit",
        "smtp.auth_failure_window_seconds",
        "smtp.auth_failure_delay_seconds",
        "server.shutdown_grace_seconds",
    }
)


class SettingsChange(msgspec.Struct, frozen=True):
    """The "section.key" names that differ: taken over now, or kept until a restart."""

    applied: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()


def reloadable(key: str) -> bool:
    return key in RELOADABLE_KEYS or key.partition(".")[0] in RELOADABLE_SECTIONS


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Every "section.key" whose value differs, in schema order."""
    changed = []
    for section in old.__struct_fields__:
        before, after = getattr(old, section), getattr(new, section)
        for key in before.__struct_fields__:
            if getattr(before, key) != getattr(after, key):
                changed.append(f"{section}.{key}")
    return changed


def diff_settings(old: Settings, new: Settings) -> SettingsChange:
    keys = changed_keys(old, new)
    return SettingsChange(
        applied=tuple(key for key in keys if reloadable(key)),
        restart=tuple(key for key in keys if not reloadable(key)),
    )


def effective_settings(old: Settings, new: Settings) -> Settings:
    """The settings to run on after a reload: `new`, with every restart-only key at its `old`
    value. Validated again (raises msgspec.ValidationError), though the split is chosen so that
    keys checked against each other are on the same side."""
    sections = {}
    for section in old.__struct_fields__:
        before, after = getattr(old, section), getattr(new, section)
        kept = {
            key: getattr(before, key)
            for key in before.__struct_fields__
            if not reloadable(f"{section}.{key}")
        }
        sections[section] = msgspec.structs.replace(after, **kept)
    merged = msgspec.structs.replace(new, **sections)
    return msgspec.convert(msgspec.to_builtins(merged), Settings)
