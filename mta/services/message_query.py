"""The message log's filter: SendGrid's `query=` expressions parsed (pure) into a small
expression tree (And / Or / Not over Match, Like and TimeRange), and the same tree built from
the tutorial's plain parameters. mta.services.messages turns a tree into SQL.

Grammar (keywords in any case, field names exact; NOT binds tighter than AND, AND than OR):

    query     := or_expr
    or_expr   := and_expr (OR and_expr)*
    and_expr  := not_expr (AND not_expr)*
    not_expr  := NOT* primary
    primary   := "(" or_expr ")" | condition
    condition := field ("=" | "!=") value
               | field [NOT] IN "(" value ("," value)* ")"
               | field [NOT] LIKE value                  (not on status)
               | CONTAINS "(" categories "," value ")"
               | last_event_time [NOT] BETWEEN TIMESTAMP value AND TIMESTAMP value
               | last_event_time ("<" | "<=" | ">" | ">=") TIMESTAMP value
    value     := "…" | '…'                               (backslash escapes the next character)

In a LIKE pattern `%` matches any run of characters and `_` any one; a backslash before
either makes it literal (`\\_` in the literal, or `\\\\_` as BigQuery spells it), and a doubled
backslash in the pattern is one literal backslash. Anything else is a ValidationError on
`query`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec

from mta.core.errors import ValidationError
from mta.services.message_filter import (
    NO_FILTER,
    And,
    Like,
    Match,
    MessageFilter,
    Not,
    Or,
    TimeRange,
)

MAX_QUERY_LENGTH = 4000
MAX_VALUES = 100  # values in one IN list
MAX_VALUE_LENGTH = 1000
MAX_NESTING = 8  # parentheses
MAX_CONDITIONS = 50  # conditions in one query

EMAIL_FIELDS = frozenset({"to_email", "from_email"})
FIELDS = EMAIL_FIELDS | {"msg_id", "subject", "status", "template_id", "categories", "api_key_id"}
STATUSES = frozenset({"processed", "delivered", "not_delivered", "deferred", "bounced", "dropped"})
# SendGrid's `not_delivered` covers every settled failure of ours.
STATUS_ALIASES = {"not_delivered": ("not_delivered", "bounced", "dropped")}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# In a LIKE literal `\%` and `\_` stay escaped (the pattern's escape), `\\` is one backslash.
_LIKE_ESCAPE = re.compile(r"\\([%_])|\\(.)", re.DOTALL)


class Token(msgspec.Struct, frozen=True):
    kind: str  # string | word | op
    text: str  # a string's value, its escapes resolved
    raw: str = ""  # a string's text between the quotes


def _fail(message: str) -> ValidationError:
    return ValidationError(
        f"invalid query: {message}",
        field="query",
        help='e.g. to_email="ada@example.com" AND status IN ("delivered","processed")',
    )


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(query):
        if query[position:].isspace():
            break
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            at = len(query) - len(query[position:].lstrip())
            raise _fail(f"unexpected {query[at]!r} at offset {at}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "string":
            tokens.append(Token(kind, _ESCAPE.sub(r"\1", text[1:-1]), text[1:-1]))
        else:
            tokens.append(Token(kind, text))
        position = match.end()
    return tokens


def _and(items: list[MessageFilter]) -> MessageFilter:
    flat = [part for item in items for part in (item.items if isinstance(item, And) else (item,))]
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _or(items: list[MessageFilter]) -> MessageFilter:
    flat = [part for item in items for part in (item.items if isinstance(item, Or) else (item,))]
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def negate(item: MessageFilter) -> MessageFilter:
    return item.item if isinstance(item, Not) else Not(item)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.conditions = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _fail("the query ends too early")
        self.at += 1
        return token

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() == word

    def at_op(self, op: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text == op

    def keyword(self, word: str) -> None:
        token = self.take()
        if token.kind != "word" or token.text.upper() != word:
            raise _fail(f"expected {word}, found {token.text!r}")

    def op(self, op: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != op:
            raise _fail(f"expected {op!r}, found {token.text!r}")

    def literal(self) -> Token:
        token = self.take()
        if token.kind != "string":
            raise _fail(f"expected a quoted value, found {token.text!r}")
        if len(token.text) > MAX_VALUE_LENGTH:
            raise _fail("a value is too long")
        return token

    def string(self) -> str:
        return self.literal().text

    def parse(self) -> MessageFilter:
        if not self.tokens:
            raise _fail("the query is empty")
        result = self.or_expr(0)
        token = self.peek()
        if token is not None:
            raise _fail(f"expected AND, OR or the end, found {token.text!r}")
        return result

    def or_expr(self, depth: int) -> MessageFilter:
        items = [self.and_expr(depth)]
        while self.at_word("OR"):
            self.take()
            items.append(self.and_expr(depth))
        return _or(items)

    def and_expr(self, depth: int) -> MessageFilter:
        items = [self.not_expr(depth)]
        while self.at_word("AND"):
            self.take()
            items.append(self.not_expr(depth))
        return _and(items)

    def not_expr(self, depth: int) -> MessageFilter:
        negations = 0
        while self.at_word("NOT"):  # bounded by the tokens
            self.take()
            negations += 1
        item = self.primary(depth)
        return negate(item) if negations % 2 else item

    def primary(self, depth: int) -> MessageFilter:
        if self.at_op("("):
            if depth >= MAX_NESTING:
                raise _fail(f"more than {MAX_NESTING} nested parentheses")
            self.take()
            item = self.or_expr(depth + 1)
            self.op(")")
            return item
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _fail(f"more than {MAX_CONDITIONS} conditions")
        return self.condition()

    def condition(self) -> MessageFilter:
        field = self.take()
        if field.kind != "word":
            raise _fail(f"expected a field name, found {field.text!r}")
        if field.text.upper() == "CONTAINS" and self.at_op("("):
            return self.contains()
        if field.text == "last_event_time":
            return self.time_clause()
        if field.text in FIELDS:
            return self.field_clause(field.text)
        raise _fail(f"unknown field {field.text!r}")

    def contains(self) -> MessageFilter:
        self.op("(")
        field = self.take()
        if field.kind != "word" or field.text != "categories":
            raise _fail(f"Contains takes categories, not {field.text!r}")
        self.op(",")
        value = self.string()
        self.op(")")
        return Match("categories", (value,))

    def field_clause(self, field: str) -> MessageFilter:
        operator = self.take()
        word = operator.text.upper() if operator.kind == "word" else None
        negated = word == "NOT"
        if negated:
            operator = self.take()
            word = operator.text.upper() if operator.kind == "word" else None
        if word == "IN":
            item: MessageFilter = match(field, self.value_list())
        elif word == "LIKE" and field != "status":
            item = Like(field, like_pattern(field, self.literal().raw))
        elif operator.kind == "op" and operator.text in ("=", "!=") and not negated:
            item = match(field, [self.string()])
            negated = operator.text == "!="
        else:
            takes = "=, != or [NOT] IN" if field == "status" else "=, !=, [NOT] IN or [NOT] LIKE"
            raise _fail(f"{field} takes {takes}, not {operator.text!r}")
        return Not(item) if negated else item

    def value_list(self) -> list[str]:
        if not self.at_op("("):
            raise _fail("IN needs a list in parentheses")
        self.take()
        values = [self.string()]
        while (separator := self.take()).text == "," and separator.kind == "op":
            values.append(self.string())
            if len(values) > MAX_VALUES:
                raise _fail(f"at most {MAX_VALUES} values in one IN list")
        if separator.text != ")" or separator.kind != "op":
            raise _fail(f"expected ',' or ')', found {separator.text!r}")
        return values

    def timestamp(self) -> float:
        self.keyword("TIMESTAMP")
        return parse_time(self.string())

    def time_clause(self) -> MessageFilter:
        operator = self.take()
        word = operator.text.upper() if operator.kind == "word" else None
        if word == "NOT" and self.at_word("BETWEEN"):
            self.take()
            return Not(self.between())
        if word == "BETWEEN":
            return self.between()
        if operator.kind == "op" and operator.text in (">", ">="):
            return TimeRange(after=self.timestamp())
        if operator.kind == "op" and operator.text in ("<", "<="):
            return TimeRange(before=self.timestamp())
        raise _fail(f"last_event_time takes BETWEEN, <, <=, > or >=, not {operator.text!r}")

    def between(self) -> TimeRange:
        start = self.timestamp()
        self.keyword("AND")
        return TimeRange(after=start, before=self.timestamp())


def match(field: str, values: list[str]) -> Match:
    """A Match with the values as stored: statuses checked, addresses normalised."""
    if field == "status":
        for value in values:
            if value not in STATUSES:
                raise _fail(f"unknown status {value!r}")
    if field in EMAIL_FIELDS:
        values = [normalise_email(value) for value in values]
    return Match(field, tuple(dict.fromkeys(values)))


def like_pattern(field: str, raw: str) -> str:
    """A LIKE literal's text → the pattern (escape: backslash), checked to be complete."""
    pattern = _LIKE_ESCAPE.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2), raw)
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise _fail(f"the LIKE pattern {pattern!r} ends with a lone backslash")
    return normalise_email(pattern) if field in EMAIL_FIELDS else pattern


def normalise_email(value: str) -> str:
    """As intake stores addresses: the domain lower-cased, the local part as given."""
    local, at, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else value.strip()


def parse_time(text: str) -> float:
    """ISO 8601 (a trailing Z or an offset; none means UTC) → Unix seconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_query(query: str) -> MessageFilter:
    """SendGrid's `query=` expression → a MessageFilter; a ValidationError on `query`."""
    if len(query) > MAX_QUERY_LENGTH:
        raise _fail(f"longer than {MAX_QUERY_LENGTH} characters")
    return _Parser(tokenize(query)).parse()


def expand_statuses(statuses: tuple[str, ...] | list[str]) -> list[str]:
    return list(
        dict.fromkeys(s for status in statuses for s in STATUS_ALIASES.get(status, [status]))
    )


def from_parameters(
    params: dict[str, str | None], base: MessageFilter | None = None
) -> MessageFilter:
    """The tutorial's style: `?to_email=..&status=..` (each one value) → an And of their
    conditions, with `base` (a parsed `query=`) when both are given."""
    items: list[MessageFilter] = [] if base is None else [base]
    for field, value in params.items():
        if value is None or value == "":
            continue
        if field == "last_event_time_after":
            items.append(TimeRange(after=_param_time(value, field)))
        elif field == "last_event_time_before":
            items.append(TimeRange(before=_param_time(value, field)))
        else:
            try:
                items.append(match(field, [value]))
            except ValidationError as exc:
                message = exc.message.removeprefix("invalid query: ")
                raise ValidationError(message, field=field) from None
    return _and(items) if items else NO_FILTER


def _param_time(value: str, field: str) -> float:
    try:
        seconds = float(value)  # Unix seconds, like event timestamps
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise ValidationError(f"{value!r} is not a finite time", field=field)
    try:
        return parse_time(value)
    except ValidationError:
        raise ValidationError(f"{value!r} is not Unix seconds or ISO 8601", field=field) from None
