"""The API keys page's view data: the picker's areas and presets among the scopes a caller
may grant, and the one-line summary of a key's scopes."""

from __future__ import annotations

from control.ui.pages.api_keys import AREAS, preset_scopes, scope_groups, scopes_summary
from mta.services.scopes import ALL_SCOPES
from mta.services.user_roles import role_scopes


def test_every_scope_has_an_area_and_only_grantable_ones_are_offered() -> None:
    groups = scope_groups(list(ALL_SCOPES), {"mail.send"})
    assert [g.label for g in groups] == [label for label, _ in AREAS]  # no "Other" left
    offered = [c.name for g in groups for c in g.choices]
    assert sorted(offered) == sorted(ALL_SCOPES)
    assert [c.name for c in groups[0].choices if c.checked] == ["mail.send"]
    support = sorted(role_scopes("support"))
    assert {c.name for g in scope_groups(support, set()) for c in g.choices} == set(support)


def test_presets_never_exceed_what_the_caller_holds() -> None:
    support = sorted(role_scopes("support"))
    assert preset_scopes("full", support) == set(support)
    assert preset_scopes("mail", support) == set()  # support cannot send
    assert preset_scopes("mail", list(ALL_SCOPES)) == {"mail.send"}
    read = preset_scopes("read", list(ALL_SCOPES))
    assert "messages.read" in read and all(s.endswith(".read") for s in read)
    assert preset_scopes("forged", list(ALL_SCOPES)) == set()


def test_summaries() -> None:
    assert scopes_summary(list(ALL_SCOPES)) == "Full access"
    assert scopes_summary(["mail.send"]) == "Mail send only"
    assert scopes_summary([]) == "No scopes"
    assert scopes_summary(["a.read", "b.read"]) == "a.read, b.read"
    reads = sorted(s for s in ALL_SCOPES if s.endswith(".read"))
    assert scopes_summary(reads) == f"Read only ({len(reads)} scopes)"
    assert scopes_summary(["a.create", "b.read", "c.read", "d.read"]) == (
        "a.create, b.read and 2 more"
    )
