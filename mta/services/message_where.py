"""A message-log filter tree (mta.services.message_query) as one SQLAlchemy boolean clause
over `messages` and its recipient and category tables; every value is a bound parameter.

NOT is pushed down to the conditions (De Morgan), where it means "has not": a message without
a template passes `template_id != "x"`, and `NOT categories = "x"` is NOT EXISTS such a row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, aliased

from mta.db.models import Message, MessageCategory, MessageRecipient
from mta.services.message_filter import And, Like, Match, MessageFilter, Not, Or, TimeRange
from mta.services.message_query import expand_statuses

COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "msg_id": Message.id,
    "from_email": Message.from_email,
    "subject": Message.subject,
    "status": Message.status,
    "template_id": Message.template_id,
    "api_key_id": Message.api_key_id,
}
NULLABLE = frozenset({"template_id", "api_key_id"})
LIKE_ESCAPE = "\\"


def where_clause(
    wanted: MessageFilter, account_id: str, dialect: str, unindexed: frozenset[str] = frozenset()
) -> ColumnElement[bool]:
    """`wanted` as a WHERE clause for a select from `messages` (of `account_id`'s rows) on
    the database `dialect` names (`sqlite`, `postgresql`). A LIKE on a field in `unindexed`
    tests an expression of the column, which the planner cannot answer from its index."""
    return _clause(wanted, (account_id, dialect, unindexed), negated=False)


_Where = tuple[str, str, frozenset[str]]  # account_id, dialect, unindexed


def _clause(wanted: MessageFilter, where: _Where, *, negated: bool) -> ColumnElement[bool]:
    account_id, dialect, unindexed = where
    if isinstance(wanted, Not):
        return _clause(wanted.item, where, negated=not negated)
    if isinstance(wanted, And | Or):
        parts = [_clause(item, where, negated=negated) for item in wanted.items]
        conjunction = isinstance(wanted, And) != negated
        if not parts:  # And(()): every message
            return true() if conjunction else false()
        return and_(*parts) if conjunction else or_(*parts)
    if isinstance(wanted, TimeRange):
        return _time(wanted, negated)
    if wanted.field in ("to_email", "categories"):
        return _related(wanted, account_id, dialect, negated)
    column: SQLColumnExpression[Any] = COLUMNS[wanted.field]
    if isinstance(wanted, Like) and wanted.field in unindexed:
        column = column + ""  # `subject || ''`: the same text, no index range
    test = _test(column, wanted, dialect)
    if not negated:
        return test
    return or_(column.is_(None), ~test) if wanted.field in NULLABLE else ~test


def _test(
    column: SQLColumnExpression[Any], condition: Match | Like, dialect: str
) -> ColumnElement[bool]:
    if isinstance(condition, Like):
        return like(column, condition.pattern, dialect)
    values = condition.values
    if condition.field == "status":
        values = tuple(expand_statuses(values))
    return column.in_(values) if len(values) != 1 else column == values[0]


def _time(wanted: TimeRange, negated: bool) -> ColumnElement[bool]:
    column = Message.created_at if wanted.field == "created_at" else Message.last_event_time
    tests = []
    if wanted.after is not None:
        tests.append(column >= wanted.after)
    if wanted.before is not None:
        tests.append(column <= wanted.before)
    test = and_(*tests) if tests else column.is_not(None)
    # A message with no event yet is in no time range: NOT keeps it.
    return or_(column.is_(None), ~test) if negated else test


def _related(
    condition: Match | Like, account_id: str, dialect: str, negated: bool
) -> ColumnElement[bool]:
    """A recipient or category condition: the message has such a row (IN over the row
    table's index), or, negated, NOT EXISTS such a row (by the message's key)."""
    if condition.field == "to_email":
        recipient = aliased(MessageRecipient)
        key, value, scope = recipient.message_id, recipient.email, None
    else:
        category = aliased(MessageCategory)
        key, value = category.message_id, category.category
        scope = category.account_id == account_id
    test = _test(value, condition, dialect)
    if negated:
        return ~exists().where(key == Message.id, test).correlate(Message)
    rows = select(key).where(test)
    return Message.id.in_(rows if scope is None else rows.where(scope))


def like(column: SQLColumnExpression[Any], pattern: str, dialect: str) -> ColumnElement[bool]:
    """Case-sensitive LIKE on every backend. SQLite's LIKE ignores ASCII case, so there
    the same pattern runs as GLOB (case-sensitive, and an index can answer its prefix)."""
    if dialect == "sqlite":
        return column.op("GLOB", is_comparison=True)(glob_pattern(pattern))
    return column.like(pattern, escape=LIKE_ESCAPE)


def glob_pattern(pattern: str) -> str:
    """A LIKE pattern (escape: backslash) → the GLOB pattern matching the same strings."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped or char not in "%_\\":
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append("*" if char == "%" else "?")
    return "".join(out)
