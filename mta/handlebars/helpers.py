"""The Handlebars helpers SendGrid documents (equals, notEquals, and, or, length, greaterThan,
lessThan, insert, formatDate) as pure functions. As `{{#helper}}` blocks the comparisons choose
the block or its `{{else}}`; in a subexpression, `{{#if (equals a b)}}`, they are booleans."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from dotpromptz_handlebars import HelperFn, HelperOptions

from mta.handlebars.dates import format_date


def truthy(value: Any) -> bool:
    """SendGrid's truthiness: false, null, "", 0, 0.0 and empty lists or objects are false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float | str | Sequence | Mapping):
        return bool(value)
    return True


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def loosely_equal(left: Any, right: Any) -> bool:
    """Equality that coerces types the way SendGrid documents: `3` equals `"3"`."""
    if left is None or right is None:
        return left is right
    if type(left) is type(right) and not isinstance(left, int | float):
        return bool(left == right)
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    return str(left) == str(right)


def greater_than(left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    return a is not None and b is not None and a > b


def less_than(left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    return a is not None and b is not None and a < b


def length(value: Any) -> int:
    """Characters of a string or items of a list; 0 for anything else."""
    if isinstance(value, str | Sequence):
        return len(value)
    return 0


def insert(value: Any, default: Any = None) -> Any:
    """The value, or the default ("default=Customer" or plain "Customer") when it is missing."""
    if value is not None and value != "":
        return value
    if not isinstance(default, str):
        return ""
    return default.removeprefix("default=")


def _two(args: list[Any], name: str) -> tuple[Any, Any]:
    if len(args) != 2:
        raise ValueError(f"{name} takes two arguments, got {len(args)}")
    return args[0], args[1]


def _choose(result: bool, options: HelperOptions) -> Any:
    if not options.is_block:
        return result
    return options.fn(options.context) if result else options.inverse(options.context)


def _comparison(name: str, test: Callable[[Any, Any], bool]) -> HelperFn:
    def helper(args: list[Any], options: HelperOptions) -> Any:
        return _choose(test(*_two(args, name)), options)

    return helper


def _and(args: list[Any], options: HelperOptions) -> Any:
    if not args:
        raise ValueError("and takes at least one argument")
    return _choose(all(truthy(a) for a in args), options)


def _or(args: list[Any], options: HelperOptions) -> Any:
    if not args:
        raise ValueError("or takes at least one argument")
    return _choose(any(truthy(a) for a in args), options)


def _length(args: list[Any], _options: HelperOptions) -> int:
    if len(args) != 1:
        raise ValueError(f"length takes one argument, got {len(args)}")
    return length(args[0])


def _lookup(args: list[Any], _options: HelperOptions) -> Any:
    """Handlebars' own `lookup`, for any mapping or list (the data a render reads is
    wrapped, mta/handlebars/budget.py)."""
    collection, key = [*args, None, None][:2]
    if isinstance(collection, Mapping):
        return collection.get(key) if isinstance(key, str) else None
    if isinstance(collection, Sequence) and not isinstance(collection, str):
        index = key if isinstance(key, int) else _number(key)
        if index is not None and float(index).is_integer() and 0 <= index < len(collection):
            return collection[int(index)]
    return None


def _insert(args: list[Any], options: HelperOptions) -> Any:
    if not 1 <= len(args) <= 2:
        raise ValueError(f"insert takes a value and a default, got {len(args)} arguments")
    default = args[1] if len(args) == 2 else options.hash.get("default")
    return insert(args[0], default)


def _format_date(args: list[Any], _options: HelperOptions) -> str:
    if not 1 <= len(args) <= 3:
        raise ValueError(f"formatDate takes a date, a format and an offset, got {len(args)}")
    return format_date(*args)


SENDGRID_HELPERS: Mapping[str, HelperFn] = MappingProxyType(
    {
        "equals": _comparison("equals", loosely_equal),
        "notEquals": _comparison("notEquals", lambda a, b: not loosely_equal(a, b)),
        "greaterThan": _comparison("greaterThan", greater_than),
        "lessThan": _comparison("lessThan", less_than),
        "and": _and,
        "or": _or,
        "length": _length,
        "insert": _insert,
        "formatDate": _format_date,
        "lookup": _lookup,
    }
)
