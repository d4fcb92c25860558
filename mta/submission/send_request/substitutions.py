"""Legacy substitutions: a personalization's `substitutions` and the request's `sections`
replaced in subject and content, in one pass, so no value is ever substituted twice."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mta.core.errors import ValidationError

# Tags times characters searched for them, per personalization: the search tries every tag
# at every position (about 0.5 s of CPU at this figure); a sane request is far below it.
# (The tags themselves are bounded by SendGrid's 10,000 bytes: send_request/options.py.)
MAX_SUBSTITUTION_WORK = 200_000_000


def check_work(
    substitutions: Mapping[str, str], sections: Mapping[str, str], texts: list[str], field: str
) -> None:
    """Refuse substitutions whose search would cost more than MAX_SUBSTITUTION_WORK: every
    tag tried over the sections and the texts they are made in."""
    searched = sum(map(len, sections.values())) + sum(map(len, texts))
    if (len(substitutions) + len(sections)) * searched > MAX_SUBSTITUTION_WORK:
        raise ValidationError(
            f"Too many substitution tags ({len(substitutions)}) and sections "
            f"({len(sections)}) for {searched} characters of content and sections.",
            field=field,
        )


def substitution_table(
    substitutions: Mapping[str, str], sections: Mapping[str, str]
) -> dict[str, str]:
    """What each tag becomes. A substitution whose value names a section becomes that
    section's text with the substitutions made in it (one level: a section never expands
    another); a section tag written straight into the content is replaced too."""
    if not substitutions and not sections:
        return {}
    expanded = {tag: substitute(text, substitutions) for tag, text in sections.items() if tag}
    own = {tag: expanded.get(value, value) for tag, value in substitutions.items() if tag}
    return {**expanded, **own}


def substitute(
    text: str, table: Mapping[str, str], *, limit: int | None = None, field: str | None = None
) -> str:
    """`text` with every tag in `table` replaced; the longest tag wins where tags overlap.
    Output past `limit` characters is refused as soon as it is made (tags repeated a million
    times would otherwise make a message of any size)."""
    tags = sorted((tag for tag in table if tag), key=len, reverse=True)
    if not tags or not text:
        return text
    pattern = re.compile("|".join(map(re.escape, tags)))
    grown = 0  # how much longer the output so far is than the text it replaced

    def replace(match: re.Match[str]) -> str:
        nonlocal grown
        value = table[match.group()]
        if limit is not None and match.start() + grown + len(value) > limit:
            raise ValidationError(
                f"Substitutions would make the message larger than {limit} characters.",
                field=field,
            )
        grown += len(value) - len(match.group())
        return value

    return pattern.sub(replace, text)
