"""Discord's error shapes and the small interpreter behind the fake's rules table: field kinds
(text, URL, integer, ...) that check one value and record Discord's 50035 errors, so rules.py can
say *what* each field allows in one table line instead of spelling out the checks by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Path = tuple[str | int, ...]

URL_MAX = 2048
_URL = re.compile(r"^(https?|attachment)://[^\s]+$")


class DiscordHTTPError(Exception):
    """A non-2xx answer in Discord's JSON error shape: `{"message", "code", "errors"?}`."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


class FormErrors:
    """Collects 50035 'Invalid Form Body' errors into Discord's nested `errors` tree."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record one error at `path` (keys and list indexes, as Discord nests them)."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def merge(self, other: FormErrors) -> None:
        """Add every error of `other` (e.g. the OpenAPI check's) to this tree."""

        def into(target: dict[str, Any], source: Mapping[str, Any]) -> None:
            for key, value in source.items():
                if key == "_errors":
                    known = target.setdefault("_errors", [])
                    known.extend(e for e in value if e not in known)
                else:
                    into(target.setdefault(key, {}), value)

        into(self.tree, other.tree)

    def codes(self) -> list[str]:
        """Every error code in the tree (handy in assertions)."""
        found: list[str] = []

        def walk(node: Mapping[str, Any]) -> None:
            for key, value in node.items():
                if key == "_errors":
                    found.extend(e["code"] for e in value)
                else:
                    walk(value)

        walk(self.tree)
        return found

    def raise_if_any(self) -> None:
        """Raise 400 50035 with the tree, if anything was recorded."""
        if self.tree:
            raise DiscordHTTPError(400, 50035, "Invalid Form Body", errors=self.tree)

    # the messages Discord repeats for every field of a kind
    def required(self, path: Path) -> None:
        """BASE_TYPE_REQUIRED: missing, null or blank where a value is needed."""
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def too_long(self, path: Path, limit: int) -> None:
        """BASE_TYPE_MAX_LENGTH, for strings and arrays alike."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def not_object(self, path: Path) -> None:
        """DICT_TYPE_CONVERT: an object was expected."""
        self.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")


def is_snowflake(value: Any) -> bool:
    """An unsigned 64-bit id, as an integer or a digit string."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value < 2**64
    return isinstance(value, str) and value.isdigit() and int(value) < 2**64


class Rule:
    """One kind of field: checks a value at a path and returns it when usable, else None."""

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Record what is wrong with `value` (None means the field is absent)."""
        raise NotImplementedError

    def check_item(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """The same check for an element of an array, where absent is not an option."""
        return self.check(errors, path, value)


@dataclass(frozen=True)
class Text(Rule):
    """A string of at most `max_len`; when required, absent or blank is refused."""

    max_len: int
    required: bool = False

    def check(self, errors: FormErrors, path: Path, value: Any) -> str | None:
        """Type, length, and (if required) presence."""
        if value is None:
            if self.required:
                errors.required(path)
            return None
        if not isinstance(value, str):
            errors.add(path, "BASE_TYPE_STRING", "Value must be a string.")
            return None
        if len(value) > self.max_len:
            errors.too_long(path, self.max_len)
        elif self.required and not value.strip():
            errors.required(path)
        return value


@dataclass(frozen=True)
class Url(Text):
    """A text that must be an http(s) or attachment:// URL."""

    max_len: int = URL_MAX

    def check(self, errors: FormErrors, path: Path, value: Any) -> str | None:
        """A text check, then the URL's shape."""
        url = super().check(errors, path, value)
        if url and not _URL.match(url):
            errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return url


@dataclass(frozen=True)
class Int(Rule):
    """An integer (never a bool) between `lo` and `hi`."""

    lo: int
    hi: int
    required: bool = False

    def check(self, errors: FormErrors, path: Path, value: Any) -> int | None:
        """Presence, type, range; an out-of-range integer is still returned for later checks."""
        if value is None:
            if self.required:
                errors.required(path)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
            return None
        if not self.lo <= value <= self.hi:
            errors.add(
                path,
                "NUMBER_TYPE_MAX" if value > self.hi else "NUMBER_TYPE_MIN",
                f"int value should be between {self.lo} and {self.hi}.",
            )
        return value


@dataclass(frozen=True)
class Bool(Rule):
    """An optional true or false."""

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Anything but a bool (or absence) is refused."""
        if value is not None and not isinstance(value, bool):
            errors.add(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
        return value


@dataclass(frozen=True)
class OneOf(Rule):
    """One of a fixed set of values (list None among them where the field is optional)."""

    values: tuple[Any, ...]
    message: str
    code: str = "BASE_TYPE_CHOICES"

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Compared by equality, so unhashable values are refused rather than crashing."""
        if value not in self.values:
            errors.add(path, self.code, self.message)
        return value


@dataclass(frozen=True)
class Snowflake(Rule):
    """An id (only ever checked as an element of an array)."""

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Discord's coercion message names the value."""
        if not is_snowflake(value):
            errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
        return value


@dataclass(frozen=True)
class Timestamp(Rule):
    """An optional ISO 8601 timestamp."""

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Parsed the way Discord documents it, with a trailing Z allowed."""
        if value is not None:
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                errors.add(path, "DATE_TYPE_PARSE", "Could not parse timestamp. Should be ISO8601.")
        return value


@dataclass(frozen=True)
class Items(Rule):
    """An array of at most `max_items`, each element checked by `item` (if given).

    `required`: a missing, non-array or shorter-than-`min_items` value is BASE_TYPE_REQUIRED
    (Discord's answer for select options and autocomplete choices) instead of BASE_TYPE_ARRAY.
    """

    item: Rule | None
    max_items: int
    required: bool = False
    min_items: int = 0

    def check(self, errors: FormErrors, path: Path, value: Any) -> list[Any]:
        """The usable elements (an empty list when the array itself is unusable)."""
        if self.required and (not isinstance(value, list) or len(value) < self.min_items):
            errors.required(path)
            return []
        if value is None:
            return []
        if not isinstance(value, list):
            errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return []
        if len(value) > self.max_items:
            errors.too_long(path, self.max_items)
        if self.item is not None:
            for i, element in enumerate(value):
                self.item.check_item(errors, (*path, i), element)
        return value


@dataclass(frozen=True)
class Obj(Rule):
    """A sub-object whose keys are checked, in order, by their own rules (unknown keys pass)."""

    fields: Mapping[str, Rule]

    def check(self, errors: FormErrors, path: Path, value: Any) -> dict[str, Any] | None:
        """An absent object passes; otherwise the checked values by key."""
        if value is None:
            return None
        return self.check_item(errors, path, value)

    def check_item(self, errors: FormErrors, path: Path, value: Any) -> dict[str, Any] | None:
        """As an array element (or a whole body) the object must be there."""
        if not isinstance(value, Mapping):
            errors.not_object(path)
            return None
        return {
            key: rule.check(errors, (*path, key), value.get(key))
            for key, rule in self.fields.items()
        }


@dataclass(frozen=True)
class Map(Rule):
    """An object of free keys (e.g. locales) whose values all follow `value`."""

    value: Rule

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Absent passes; each value is checked under its own key."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            errors.not_object(path)
            return None
        for key, item in value.items():
            self.value.check(errors, (*path, key), item)
        return value


@dataclass(frozen=True)
class Check(Rule):
    """A field whose rule is code, not a table line (cross-field or Discord-specific checks)."""

    function: Callable[[FormErrors, Path, Any], Any] = field(compare=False)

    def check(self, errors: FormErrors, path: Path, value: Any) -> Any:
        """Delegate to the function."""
        return self.function(errors, path, value)
