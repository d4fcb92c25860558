"""The message log's filter: SendGrid's `query=` expressions parsed into a `MessageFilter`
(pure), and the same filter built from the tutorial's plain parameters.

Grammar: clause (AND clause)*; clause is `field = "v"`, `field IN ("a", "b")`,
`last_event_time BETWEEN TIMESTAMP "t1" AND TIMESTAMP "t2"` or `last_event_time <op>
TIMESTAMP "t"`, optionally in parentheses. Anything else is a ValidationError on `query`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec

from mta.errors import ValidationError

MAX_QUERY_LENGTH = 4000
MAX_VALUES = 100  # values in one IN list
MAX_VALUE_LENGTH = 1000
MAX_NESTING = 8

# Query field → MessageFilter attribute (a list of accepted values).
LIST_FIELDS = {
    "msg_id": "msg_ids",
    "to_email": "to_emails",
    "from_email": "from_emails",
    "subject": "subjects",
    "status": "statuses",
    "template_id": "template_ids",
    "categories": "categories",
    "api_key_id": "api_key_ids",
}
STATUSES = frozenset({"processed", "delivered", "not_delivered", "deferred", "bounced", "dropped"})
# SendGrid's `not_delivered` covers every settled failure of ours.
STATUS_ALIASES = {"not_delivered": ("not_delivered", "bounced", "dropped")}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


class MessageFilter(msgspec.Struct, kw_only=True):
    """Every list is "one of these" (None: no condition); times are Unix seconds."""

    msg_ids: list[str] | None = None
    to_emails: list[str] | None = None
    from_emails: list[str] | None = None
    subjects: list[str] | None = None
    statuses: list[str] | None = None
    template_ids: list[str] | None = None
    categories: list[str] | None = None
    api_key_ids: list[str] | None = None
    last_event_after: float | None = None  # inclusive
    last_event_before: float | None = None  # inclusive


class Token(msgspec.Struct, frozen=True):
    kind: str  # string | word | op
    text: str


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
            raise _fail(f"unexpected character at offset {position}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "string":
            text = _ESCAPE.sub(r"\1", text[1:-1])
        tokens.append(Token(kind, text))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.result = MessageFilter()

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _fail("the query ends too early")
        self.at += 1
        return token

    def keyword(self, word: str) -> None:
        token = self.take()
        if token.kind == "op" or token.text.upper() != word:
            raise _fail(f"expected {word}, found {token.text!r}")

    def string(self) -> str:
        token = self.take()
        if token.kind != "string":
            raise _fail(f"expected a quoted value, found {token.text!r}")
        if len(token.text) > MAX_VALUE_LENGTH:
            raise _fail("a value is too long")
        return token.text

    def parse(self) -> MessageFilter:
        if not self.tokens:
            raise _fail("the query is empty")
        self.clause()
        while self.peek() is not None:
            self.keyword("AND")
            self.clause()
        return self.result

    def clause(self, depth: int = 0) -> None:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == "(":
            if depth >= MAX_NESTING:
                raise _fail(f"more than {MAX_NESTING} nested parentheses")
            self.take()
            self.clause(depth + 1)
            closing = self.take()
            if closing.text != ")" or closing.kind != "op":
                raise _fail(f"expected ')', found {closing.text!r}")
            return
        field = self.take()
        if field.kind != "word":
            raise _fail(f"expected a field name, found {field.text!r}")
        if field.text == "last_event_time":
            self.time_clause()
        elif field.text in LIST_FIELDS:
            self.list_clause(field.text)
        else:
            raise _fail(f"unknown field {field.text!r}")

    def list_clause(self, field: str) -> None:
        operator = self.take()
        if operator.kind == "op" and operator.text == "=":
            values = [self.string()]
        elif operator.kind == "word" and operator.text.upper() == "IN":
            values = self.value_list()
        else:
            raise _fail(f"{field} takes = or IN, not {operator.text!r}")
        self.restrict(field, values)

    def value_list(self) -> list[str]:
        if self.take().text != "(":
            raise _fail("IN needs a list in parentheses")
        values = [self.string()]
        while (separator := self.take()).text == ",":
            values.append(self.string())
            if len(values) > MAX_VALUES:
                raise _fail(f"at most {MAX_VALUES} values in one IN list")
        if separator.text != ")" or separator.kind != "op":
            raise _fail(f"expected ',' or ')', found {separator.text!r}")
        return values

    def restrict(self, field: str, values: list[str]) -> None:
        """AND of two conditions on one field keeps the values both accept."""
        attribute = LIST_FIELDS[field]
        if field == "status":
            values = [_status(value) for value in values]
        if field in ("to_email", "from_email"):
            values = [normalise_email(value) for value in values]
        current: list[str] | None = getattr(self.result, attribute)
        merged = values if current is None else [v for v in current if v in values]
        setattr(self.result, attribute, list(dict.fromkeys(merged)))

    def timestamp(self) -> float:
        self.keyword("TIMESTAMP")
        return parse_time(self.string())

    def time_clause(self) -> None:
        operator = self.take()
        word = operator.text.upper() if operator.kind == "word" else None
        if word == "BETWEEN":
            start = self.timestamp()
            self.keyword("AND")
            self.after(start)
            self.before(self.timestamp())
        elif operator.kind == "op" and operator.text in (">", ">="):
            self.after(self.timestamp())
        elif operator.kind == "op" and operator.text in ("<", "<="):
            self.before(self.timestamp())
        else:
            raise _fail(f"last_event_time takes BETWEEN, <, <=, > or >=, not {operator.text!r}")

    def after(self, moment: float) -> None:
        current = self.result.last_event_after
        self.result.last_event_after = moment if current is None else max(current, moment)

    def before(self, moment: float) -> None:
        current = self.result.last_event_before
        self.result.last_event_before = moment if current is None else min(current, moment)


def normalise_email(value: str) -> str:
    """As intake stores addresses: the domain lower-cased, the local part as given."""
    local, at, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else value.strip()


def _status(value: str) -> str:
    if value not in STATUSES:
        raise _fail(f"unknown status {value!r}")
    return value


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


def expand_statuses(statuses: list[str]) -> list[str]:
    return list(
        dict.fromkeys(s for status in statuses for s in STATUS_ALIASES.get(status, [status]))
    )


def from_parameters(
    params: dict[str, str | None], base: MessageFilter | None = None
) -> MessageFilter:
    """The tutorial's style: `?to_email=..&status=..` (each one value) → a MessageFilter,
    narrowing `base` (a parsed `query=`) when both are given."""
    parser = _Parser([])
    parser.result = result = base or MessageFilter()
    for field, value in params.items():
        if value is None or value == "":
            continue
        if field == "last_event_time_after":
            parser.after(_param_time(value, field))
        elif field == "last_event_time_before":
            parser.before(_param_time(value, field))
        else:
            try:
                parser.restrict(field, [value])
            except ValidationError as exc:
                message = exc.message.removeprefix("invalid query: ")
                raise ValidationError(message, field=field) from None
    return result


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
