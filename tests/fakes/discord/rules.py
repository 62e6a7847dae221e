"""Discord's documented limits and error bodies, checked on every request body the fake accepts.

Sources are reference/upstream.md §3 (Discord's docs). Where Discord's behaviour is unclear or
lenient the fake refuses (the fake may be stricter than Discord, never looser): lengths are
measured before Discord's whitespace trimming, whitespace-only required strings count as empty,
an embed with nothing visible is refused, and embeds without EMBED_LINKS are refused even when
the message also has content (Discord would post the content and drop the embed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

# ---- limits -----------------------------------------------------------------------------------

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
URL_MAX = 2048
COLOR_MAX = 0xFFFFFF
STICKERS_MAX = 3
ATTACHMENTS_MAX = 10
NONCE_MAX = 25
MENTION_IDS_MAX = 100
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
COMPONENTS_V2_MAX = 40
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512  # ButtonComponentForMessageRequest.url in Discord's OpenAPI spec
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_TEXT_MAX = 100

COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_CHOICES_MAX = 25
COMMAND_CHOICE_NAME_MAX = 100
COMMAND_CHOICE_STRING_MAX = 100
COMMAND_SIZE_MAX = 8000
COMMANDS_CHAT_INPUT_MAX = 100
COMMANDS_CONTEXT_MENU_MAX = 15
COMMAND_LENGTH_BOUND = 6000
INTEGER_BOUND = 2**53 - 1
AUTOCOMPLETE_CHOICES_MAX = 25

THREAD_NAME_MAX = 100
THREAD_ARCHIVE_DURATIONS = frozenset({60, 1440, 4320, 10080})
SLOWMODE_MAX = 21600
APPLIED_TAGS_MAX = 5
MODAL_TITLE_MAX = 45

FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15

#: message flags a request may set, by where the message goes
SETTABLE_FLAGS = {
    "create": FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2,
    "forum": FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2,
    "interaction": FLAG_SUPPRESS_EMBEDS
    | FLAG_EPHEMERAL
    | FLAG_SUPPRESS_NOTIFICATIONS
    | FLAG_COMPONENTS_V2,
    "webhook": FLAG_SUPPRESS_EMBEDS
    | FLAG_EPHEMERAL
    | FLAG_SUPPRESS_NOTIFICATIONS
    | FLAG_COMPONENTS_V2,
    "edit": FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2,
}

OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_BOOLEAN = 5
OPTION_CHANNEL = 7
OPTION_NUMBER = 10
OPTION_ATTACHMENT = 11
CHOICE_TYPES = frozenset({OPTION_STRING, OPTION_INTEGER, OPTION_NUMBER})
CHANNEL_TYPE_VALUES = frozenset({0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16})


# ---- errors -----------------------------------------------------------------------------------


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


def unknown_channel() -> DiscordHTTPError:
    """404 10003, for a channel that does not exist (or no longer does)."""
    return DiscordHTTPError(404, 10003, "Unknown Channel")


def unknown_guild() -> DiscordHTTPError:
    """404 10004."""
    return DiscordHTTPError(404, 10004, "Unknown Guild")


def unknown_member() -> DiscordHTTPError:
    """404 10007."""
    return DiscordHTTPError(404, 10007, "Unknown Member")


def unknown_message() -> DiscordHTTPError:
    """404 10008."""
    return DiscordHTTPError(404, 10008, "Unknown Message")


def unknown_user() -> DiscordHTTPError:
    """404 10013."""
    return DiscordHTTPError(404, 10013, "Unknown User")


def unknown_webhook() -> DiscordHTTPError:
    """404 10015, also for an interaction token that was never acknowledged."""
    return DiscordHTTPError(404, 10015, "Unknown Webhook")


def unknown_interaction() -> DiscordHTTPError:
    """404 10062: an unknown interaction, or a first answer after the 3-second deadline."""
    return DiscordHTTPError(404, 10062, "Unknown interaction")


def unknown_command() -> DiscordHTTPError:
    """404 10063."""
    return DiscordHTTPError(404, 10063, "Unknown application command")


def already_acknowledged() -> DiscordHTTPError:
    """400 40060: a second initial answer to one interaction."""
    return DiscordHTTPError(400, 40060, "Interaction has already been acknowledged.")


def unauthorized() -> DiscordHTTPError:
    """401 0, for a missing or wrong bot token."""
    return DiscordHTTPError(401, 0, "401: Unauthorized")


def invalid_webhook_token() -> DiscordHTTPError:
    """401 50027, for an interaction token older than 15 minutes."""
    return DiscordHTTPError(401, 50027, "Invalid Webhook Token")


def missing_access() -> DiscordHTTPError:
    """403 50001: the bot cannot see the channel (no VIEW_CHANNEL, or not in the guild)."""
    return DiscordHTTPError(403, 50001, "Missing Access")


def cannot_edit_others() -> DiscordHTTPError:
    """403 50005."""
    return DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")


def empty_message() -> DiscordHTTPError:
    """400 50006."""
    return DiscordHTTPError(400, 50006, "Cannot send an empty message")


def non_text_channel() -> DiscordHTTPError:
    """400 50008, e.g. a plain message POSTed to a forum channel."""
    return DiscordHTTPError(400, 50008, "Cannot send messages in a non-text channel")


def missing_permissions() -> DiscordHTTPError:
    """403 50013."""
    return DiscordHTTPError(403, 50013, "Missing Permissions")


def invalid_json() -> DiscordHTTPError:
    """400 50109."""
    return DiscordHTTPError(400, 50109, "The request body contains invalid JSON.")


def thread_archived() -> DiscordHTTPError:
    """400 50083."""
    return DiscordHTTPError(400, 50083, "Thread is archived")


def thread_locked() -> DiscordHTTPError:
    """403 160005 (the status is the fake's guess; the code is Discord's)."""
    return DiscordHTTPError(403, 160005, "Thread is locked")


def not_found() -> DiscordHTTPError:
    """404 0, for a path Discord (or at least the fake) does not serve."""
    return DiscordHTTPError(404, 0, "404: Not Found")


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


def form_error(path: Sequence[str | int], code: str, message: str) -> DiscordHTTPError:
    """A 50035 error with a single entry."""
    errors = FormErrors()
    errors.add(path, code, message)
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors=errors.tree)


# ---- small checks -----------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _too_long(errors: FormErrors, path: Path, limit: int) -> None:
    errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _check_str(
    errors: FormErrors,
    path: Path,
    value: Any,
    *,
    max_len: int,
    min_len: int = 0,
    required: bool = False,
    nullable: bool = True,
) -> str | None:
    if value is None:
        if required or not nullable:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Value must be a string.")
        return None
    if len(value) > max_len:
        _too_long(errors, path, max_len)
    elif len(value.strip()) < min_len:
        if min_len == 1 and required:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        else:
            errors.add(
                path, "BASE_TYPE_BAD_LENGTH", f"Must be between {min_len} and {max_len} in length."
            )
    return value


def _check_int(
    errors: FormErrors, path: Path, value: Any, *, lo: int, hi: int, nullable: bool = True
) -> int | None:
    if value is None:
        if not nullable:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        return None
    if not lo <= value <= hi:
        errors.add(
            path,
            "NUMBER_TYPE_MAX" if value > hi else "NUMBER_TYPE_MIN",
            f"int value should be between {lo} and {hi}.",
        )
    return value


def _check_bool(errors: FormErrors, path: Path, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        errors.add(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.")


def _check_list(errors: FormErrors, path: Path, value: Any, *, max_items: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return []
    if len(value) > max_items:
        _too_long(errors, path, max_items)
    return value


def _is_snowflake(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value < 2**64
    return isinstance(value, str) and value.isdigit() and int(value) < 2**64


def _check_url(errors: FormErrors, path: Path, value: Any, *, required: bool = False) -> None:
    url = _check_str(
        errors, path, value, max_len=URL_MAX, min_len=1 if required else 0, required=required
    )
    if url and not re.match(r"^(https?|attachment)://[^\s]+$", url):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


# ---- messages ---------------------------------------------------------------------------------


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters that count towards the 6000 limit: title, description, fields, footer, author."""

    def text(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    total = text(embed.get("title")) + text(embed.get("description"))
    for fld in embed.get("fields") or []:
        if isinstance(fld, Mapping):
            total += text(fld.get("name")) + text(fld.get("value"))
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        total += text(footer.get("text"))
    author = embed.get("author")
    if isinstance(author, Mapping):
        total += text(author.get("name"))
    return total


_VISIBLE_EMBED_PARTS = ("title", "description", "fields", "author", "footer", "image", "thumbnail")


def check_embed(errors: FormErrors, path: Path, embed: Any) -> None:
    """One embed against the documented per-field limits."""
    if not isinstance(embed, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    if embed.get("type") not in (None, "rich"):
        errors.add((*path, "type"), "EMBED_TYPE_INVALID", "Only rich embeds may be sent.")
    _check_str(errors, (*path, "title"), embed.get("title"), max_len=EMBED_TITLE_MAX)
    _check_str(
        errors, (*path, "description"), embed.get("description"), max_len=EMBED_DESCRIPTION_MAX
    )
    _check_url(errors, (*path, "url"), embed.get("url"))
    _check_int(errors, (*path, "color"), embed.get("color"), lo=0, hi=COLOR_MAX)
    stamp = embed.get("timestamp")
    if stamp is not None:
        try:
            datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            errors.add(
                (*path, "timestamp"),
                "DATE_TYPE_PARSE",
                "Could not parse timestamp. Should be ISO8601.",
            )
    footer = embed.get("footer")
    if footer is not None:
        if not isinstance(footer, Mapping):
            errors.add(
                (*path, "footer"),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            )
        else:
            fp = (*path, "footer")
            _check_str(
                errors,
                (*fp, "text"),
                footer.get("text"),
                max_len=EMBED_FOOTER_MAX,
                min_len=1,
                required=True,
            )
            _check_url(errors, (*fp, "icon_url"), footer.get("icon_url"))
    author = embed.get("author")
    if author is not None:
        if not isinstance(author, Mapping):
            errors.add(
                (*path, "author"),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            )
        else:
            ap = (*path, "author")
            _check_str(
                errors,
                (*ap, "name"),
                author.get("name"),
                max_len=EMBED_AUTHOR_MAX,
                min_len=1,
                required=True,
            )
            _check_url(errors, (*ap, "url"), author.get("url"))
            _check_url(errors, (*ap, "icon_url"), author.get("icon_url"))
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        if media is None:
            continue
        if not isinstance(media, Mapping):
            errors.add(
                (*path, key), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        else:
            _check_url(errors, (*path, key, "url"), media.get("url"), required=True)
    fields = _check_list(errors, (*path, "fields"), embed.get("fields"), max_items=EMBED_FIELDS_MAX)
    for i, fld in enumerate(fields):
        fp = (*path, "fields", i)
        if not isinstance(fld, Mapping):
            errors.add(fp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        _check_str(
            errors,
            (*fp, "name"),
            fld.get("name"),
            max_len=EMBED_FIELD_NAME_MAX,
            min_len=1,
            required=True,
        )
        _check_str(
            errors,
            (*fp, "value"),
            fld.get("value"),
            max_len=EMBED_FIELD_VALUE_MAX,
            min_len=1,
            required=True,
        )
        _check_bool(errors, (*fp, "inline"), fld.get("inline"))
    if not any(embed.get(k) for k in _VISIBLE_EMBED_PARTS):
        errors.add(
            path,
            "EMBED_EMPTY",
            "Embed must have a title, description, field, author, footer or image.",
        )


def check_embeds(errors: FormErrors, path: Path, embeds: Any) -> list[Any]:
    """Up to 10 embeds, each valid, together at most 6000 characters."""
    items = _check_list(errors, path, embeds, max_items=EMBEDS_MAX)
    for i, embed in enumerate(items):
        check_embed(errors, (*path, i), embed)
    total = sum(embed_length(e) for e in items if isinstance(e, Mapping))
    if total > EMBED_TOTAL_MAX:
        errors.add(
            path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
        )
    return items


def check_allowed_mentions(errors: FormErrors, path: Path, value: Any) -> None:
    """`parse` from {users, roles, everyone}; id lists of at most 100, exclusive with parse."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = _check_list(errors, (*path, "parse"), value.get("parse"), max_items=3)
    for i, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(
                (*path, "parse", i),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('users', 'roles', 'everyone').",
            )
    for kind in ("users", "roles"):
        ids = _check_list(errors, (*path, kind), value.get(kind), max_items=MENTION_IDS_MAX)
        for i, snowflake in enumerate(ids):
            if not _is_snowflake(snowflake):
                errors.add(
                    (*path, kind, i), "NUMBER_TYPE_COERCE", f'Value "{snowflake}" is not snowflake.'
                )
        if ids and kind in parse:
            errors.add(
                (*path, kind),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
    _check_bool(errors, (*path, "replied_user"), value.get("replied_user"))


def _check_button(
    errors: FormErrors, path: Path, button: Mapping[str, Any], custom_ids: list[str]
) -> None:
    style = _check_int(errors, (*path, "style"), button.get("style"), lo=1, hi=6, nullable=False)
    _check_str(errors, (*path, "label"), button.get("label"), max_len=BUTTON_LABEL_MAX)
    if not button.get("label") and not button.get("emoji") and style != 6:
        errors.add(
            path, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or an emoji is required."
        )
    if style == 5:
        url = button.get("url")
        _check_url(errors, (*path, "url"), url, required=True)
        if isinstance(url, str) and len(url) > BUTTON_URL_MAX:
            _too_long(errors, (*path, "url"), BUTTON_URL_MAX)
        elif isinstance(url, str) and url.startswith("attachment://"):
            errors.add((*path, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        if button.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "Link buttons cannot have a custom_id.",
            )
    elif style == 6:
        if not _is_snowflake(button.get("sku_id")):
            errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        cid = _check_str(
            errors,
            (*path, "custom_id"),
            button.get("custom_id"),
            max_len=CUSTOM_ID_MAX,
            min_len=1,
            required=True,
        )
        if cid:
            custom_ids.append(cid)
        if button.get("url") is not None:
            errors.add(
                (*path, "url"),
                "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                "Only link buttons can have a url.",
            )


def _check_select(
    errors: FormErrors, path: Path, select: Mapping[str, Any], custom_ids: list[str]
) -> None:
    cid = _check_str(
        errors,
        (*path, "custom_id"),
        select.get("custom_id"),
        max_len=CUSTOM_ID_MAX,
        min_len=1,
        required=True,
    )
    if cid:
        custom_ids.append(cid)
    _check_str(
        errors, (*path, "placeholder"), select.get("placeholder"), max_len=SELECT_PLACEHOLDER_MAX
    )
    lo = _check_int(
        errors, (*path, "min_values"), select.get("min_values"), lo=0, hi=SELECT_OPTIONS_MAX
    )
    hi = _check_int(
        errors, (*path, "max_values"), select.get("max_values"), lo=1, hi=SELECT_OPTIONS_MAX
    )
    if select.get("type") == 3:
        options = select.get("options")
        if not isinstance(options, list) or not options:
            errors.add((*path, "options"), "BASE_TYPE_REQUIRED", "This field is required")
            options = []
        elif len(options) > SELECT_OPTIONS_MAX:
            _too_long(errors, (*path, "options"), SELECT_OPTIONS_MAX)
        for i, opt in enumerate(options):
            op = (*path, "options", i)
            if not isinstance(opt, Mapping):
                errors.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            _check_str(
                errors,
                (*op, "label"),
                opt.get("label"),
                max_len=SELECT_TEXT_MAX,
                min_len=1,
                required=True,
            )
            _check_str(
                errors,
                (*op, "value"),
                opt.get("value"),
                max_len=SELECT_TEXT_MAX,
                min_len=1,
                required=True,
            )
            _check_str(
                errors, (*op, "description"), opt.get("description"), max_len=SELECT_TEXT_MAX
            )
        if hi is not None and hi > max(len(options), 1):
            errors.add(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                "max_values exceeds the number of options.",
            )
    if lo is not None and hi is not None and lo > hi:
        errors.add(
            (*path, "min_values"),
            "SELECT_COMPONENT_MIN_GT_MAX",
            "min_values must not exceed max_values.",
        )


def check_components(errors: FormErrors, path: Path, components: Any, *, v2: bool) -> None:
    """Action rows of buttons or one select (or, with IS_COMPONENTS_V2, up to 40 components)."""
    rows = _check_list(
        errors, path, components, max_items=COMPONENTS_V2_MAX if v2 else ACTION_ROWS_MAX
    )
    custom_ids: list[str] = []
    for i, row in enumerate(rows):
        rp = (*path, i)
        if not isinstance(row, Mapping) or not isinstance(row.get("type"), int):
            errors.add(
                rp, "COMPONENT_TYPE_INVALID", "Components must be objects with an integer type."
            )
            continue
        if v2:
            continue
        if row["type"] != 1:
            errors.add(
                (*rp, "type"),
                "COMPONENT_LAYOUT_INVALID",
                "Top-level components must be action rows.",
            )
            continue
        items = row.get("components")
        if not isinstance(items, list) or not items:
            errors.add((*rp, "components"), "BASE_TYPE_REQUIRED", "This field is required")
            continue
        if len(items) > ROW_ITEMS_MAX:
            _too_long(errors, (*rp, "components"), ROW_ITEMS_MAX)
        kinds = {c.get("type") for c in items if isinstance(c, Mapping)}
        if kinds - {2} and len(items) > 1:
            errors.add(
                (*rp, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu must be alone in its row.",
            )
        for j, item in enumerate(items):
            ip = (*rp, "components", j)
            if not isinstance(item, Mapping):
                errors.add(ip, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            elif item.get("type") == 2:
                _check_button(errors, ip, item, custom_ids)
            elif item.get("type") in (3, 5, 6, 7, 8):
                _check_select(errors, ip, item, custom_ids)
            else:
                errors.add(
                    (*ip, "type"),
                    "COMPONENT_TYPE_INVALID",
                    "Invalid component type in an action row.",
                )
    if len(custom_ids) != len(set(custom_ids)):
        errors.add(
            path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
        )


def check_message(
    errors: FormErrors,
    body: Any,
    *,
    kind: str,
    path: Path = (),
    existing_flags: int = 0,
) -> None:
    """A message body (create, edit, interaction response, follow-up, forum starter)."""
    if not isinstance(body, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    _check_str(errors, (*path, "content"), body.get("content"), max_len=CONTENT_MAX)
    check_embeds(errors, (*path, "embeds"), body.get("embeds"))
    check_allowed_mentions(errors, (*path, "allowed_mentions"), body.get("allowed_mentions"))
    flags = _check_int(errors, (*path, "flags"), body.get("flags"), lo=0, hi=2**31 - 1)
    allowed = SETTABLE_FLAGS[kind] | existing_flags
    if flags is not None and flags & ~allowed:
        errors.add(
            (*path, "flags"), "MESSAGE_FLAGS_INVALID", f"Only flags {allowed} can be set here."
        )
    v2 = bool((flags or 0) & FLAG_COMPONENTS_V2 or existing_flags & FLAG_COMPONENTS_V2)
    check_components(errors, (*path, "components"), body.get("components"), v2=v2)
    if v2 and (body.get("content") or body.get("embeds")):
        errors.add(
            (*path, "content"),
            "MESSAGE_CONTENT_COMPONENTS_V2",
            "Content and embeds cannot be used with IS_COMPONENTS_V2.",
        )
    _check_bool(errors, (*path, "tts"), body.get("tts"))
    _check_bool(errors, (*path, "enforce_nonce"), body.get("enforce_nonce"))
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, bool) or not isinstance(nonce, (int, str)):
            errors.add(
                (*path, "nonce"), "BASE_TYPE_STRING", "Nonce must be an integer or a string."
            )
        elif isinstance(nonce, str) and len(nonce) > NONCE_MAX:
            _too_long(errors, (*path, "nonce"), NONCE_MAX)
        elif isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
            errors.add((*path, "nonce"), "NUMBER_TYPE_MAX", "Nonce must fit in 64 bits.")
    stickers = _check_list(
        errors, (*path, "sticker_ids"), body.get("sticker_ids"), max_items=STICKERS_MAX
    )
    for i, sid in enumerate(stickers):
        if not _is_snowflake(sid):
            errors.add(
                (*path, "sticker_ids", i), "NUMBER_TYPE_COERCE", f'Value "{sid}" is not snowflake.'
            )
    _check_list(errors, (*path, "attachments"), body.get("attachments"), max_items=ATTACHMENTS_MAX)
    ref = body.get("message_reference")
    if ref is not None and (
        not isinstance(ref, Mapping) or not _is_snowflake(ref.get("message_id"))
    ):
        errors.add(
            (*path, "message_reference"),
            "BASE_TYPE_REQUIRED",
            "message_reference needs a message_id.",
        )


def is_empty_message(body: Mapping[str, Any], *, files: int = 0) -> bool:
    """Discord's 50006 rule: no content, embeds, stickers, components, files or poll."""
    content = body.get("content")
    return not (
        (isinstance(content, str) and content.strip())
        or body.get("embeds")
        or body.get("sticker_ids")
        or body.get("components")
        or body.get("poll")
        or files
    )


# ---- application commands ---------------------------------------------------------------------

_NAME_EXTRA = frozenset("-_'")


def _name_char_ok(ch: str) -> bool:
    if ch in _NAME_EXTRA:
        return True
    if unicodedata.category(ch)[0] in ("L", "N"):
        return True
    cp = ord(ch)
    return 0x0900 <= cp <= 0x097F or 0x0E00 <= cp <= 0x0E7F  # Devanagari, Thai


def chat_input_name_problem(name: Any) -> str | None:
    """Why `name` is not a valid slash-command or option name, or None if it is."""
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        return f"Must be between 1 and {COMMAND_NAME_MAX} in length."
    if not all(_name_char_ok(ch) for ch in name):
        return "String value did not match validation regex."
    if name != name.lower():
        return "Command name must be lowercase."
    return None


def _check_name(errors: FormErrors, path: Path, name: Any) -> None:
    problem = chat_input_name_problem(name)
    if problem is None:
        return
    if (
        isinstance(name, str)
        and 1 <= len(name) <= COMMAND_NAME_MAX
        and name != name.lower()
        and all(_name_char_ok(ch) for ch in name)
    ):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", problem)
    elif isinstance(name, str) and 1 <= len(name) <= COMMAND_NAME_MAX:
        errors.add(path, "STRING_TYPE_REGEX", problem)
    else:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", problem)


def command_size(command: Mapping[str, Any]) -> int:
    """Characters counted towards the 8000 limit: names, descriptions, choice names and values,
    and every localization (Discord counts the longest; counting all is stricter)."""

    def loc(obj: Mapping[str, Any], key: str) -> int:
        value = obj.get(key)
        return (
            sum(len(v) for v in value.values() if isinstance(v, str))
            if isinstance(value, Mapping)
            else 0
        )

    def text(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    def node(obj: Mapping[str, Any]) -> int:
        total = text(obj.get("name")) + text(obj.get("description"))
        total += loc(obj, "name_localizations") + loc(obj, "description_localizations")
        for choice in obj.get("choices") or []:
            if isinstance(choice, Mapping):
                total += text(choice.get("name")) + len(str(choice.get("value", "")))
                total += loc(choice, "name_localizations")
        for opt in obj.get("options") or []:
            if isinstance(opt, Mapping):
                total += node(opt)
        return total

    return node(command)


def _check_localizations(errors: FormErrors, path: Path, value: Any, *, names: bool) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    for locale, text in value.items():
        if names:
            _check_name(errors, (*path, locale), text)
        else:
            _check_str(
                errors,
                (*path, locale),
                text,
                max_len=COMMAND_DESCRIPTION_MAX,
                min_len=1,
                required=True,
            )


def _check_choice_value(errors: FormErrors, path: Path, value: Any, option_type: int) -> None:
    if option_type == OPTION_STRING:
        _check_str(errors, path, value, max_len=COMMAND_CHOICE_STRING_MAX, min_len=1, required=True)
    elif option_type == OPTION_INTEGER:
        _check_int(errors, path, value, lo=-INTEGER_BOUND, hi=INTEGER_BOUND, nullable=False)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
    elif abs(value) > INTEGER_BOUND:
        errors.add(path, "NUMBER_TYPE_MAX", "Number out of range.")


def _check_option(errors: FormErrors, path: Path, opt: Any, *, depth: int) -> None:
    if not isinstance(opt, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    otype = _check_int(errors, (*path, "type"), opt.get("type"), lo=1, hi=11, nullable=False)
    _check_name(errors, (*path, "name"), opt.get("name"))
    _check_str(
        errors,
        (*path, "description"),
        opt.get("description"),
        max_len=COMMAND_DESCRIPTION_MAX,
        min_len=1,
        required=True,
    )
    _check_localizations(
        errors, (*path, "name_localizations"), opt.get("name_localizations"), names=True
    )
    _check_localizations(
        errors,
        (*path, "description_localizations"),
        opt.get("description_localizations"),
        names=False,
    )
    _check_bool(errors, (*path, "required"), opt.get("required"))
    _check_bool(errors, (*path, "autocomplete"), opt.get("autocomplete"))
    if otype is None:
        return
    if otype in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
        if opt.get("required"):
            errors.add(
                (*path, "required"),
                "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
                "Sub-commands cannot be required.",
            )
        if otype == OPTION_SUB_COMMAND_GROUP and depth > 0:
            errors.add(
                (*path, "type"),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Groups cannot be nested.",
            )
        if otype == OPTION_SUB_COMMAND and depth > 1:
            errors.add(
                (*path, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Too deeply nested."
            )
        _check_options(
            errors,
            (*path, "options"),
            opt.get("options"),
            depth=depth + 1,
            group=otype == OPTION_SUB_COMMAND_GROUP,
        )
        return
    if opt.get("options"):
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Only sub-commands have options.",
        )
    choices = opt.get("choices")
    if choices:
        if otype not in CHOICE_TYPES:
            errors.add(
                (*path, "choices"),
                "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "This option type cannot have choices.",
            )
        items = _check_list(errors, (*path, "choices"), choices, max_items=COMMAND_CHOICES_MAX)
        for i, choice in enumerate(items):
            cp = (*path, "choices", i)
            if not isinstance(choice, Mapping):
                errors.add(cp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            _check_str(
                errors,
                (*cp, "name"),
                choice.get("name"),
                max_len=COMMAND_CHOICE_NAME_MAX,
                min_len=1,
                required=True,
            )
            _check_localizations(
                errors, (*cp, "name_localizations"), choice.get("name_localizations"), names=False
            )
            if otype in CHOICE_TYPES:
                _check_choice_value(errors, (*cp, "value"), choice.get("value"), otype)
        if opt.get("autocomplete"):
            errors.add(
                (*path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_AND_CHOICES",
                "Autocomplete cannot be set with choices.",
            )
    if opt.get("autocomplete") and otype not in CHOICE_TYPES:
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
            "This option type cannot autocomplete.",
        )
    for key in ("min_value", "max_value"):
        value = opt.get(key)
        if value is None:
            continue
        if otype not in (OPTION_INTEGER, OPTION_NUMBER):
            errors.add(
                (*path, key),
                "APPLICATION_COMMAND_OPTION_RANGE_INVALID",
                "Only integer and number options have a range.",
            )
        else:
            _check_choice_value(errors, (*path, key), value, otype)
    lo, hi = opt.get("min_value"), opt.get("max_value")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
        errors.add(
            (*path, "min_value"),
            "APPLICATION_COMMAND_OPTION_RANGE_INVALID",
            "min_value must not exceed max_value.",
        )
    for key, floor in (("min_length", 0), ("max_length", 1)):
        if opt.get(key) is None:
            continue
        if otype != OPTION_STRING:
            errors.add(
                (*path, key),
                "APPLICATION_COMMAND_OPTION_LENGTH_INVALID",
                "Only string options have a length.",
            )
        else:
            _check_int(errors, (*path, key), opt.get(key), lo=floor, hi=COMMAND_LENGTH_BOUND)
    lo_len, hi_len = opt.get("min_length"), opt.get("max_length")
    if isinstance(lo_len, int) and isinstance(hi_len, int) and lo_len > hi_len:
        errors.add(
            (*path, "min_length"),
            "APPLICATION_COMMAND_OPTION_LENGTH_INVALID",
            "min_length must not exceed max_length.",
        )
    channel_types = opt.get("channel_types")
    if channel_types:
        if otype != OPTION_CHANNEL:
            errors.add(
                (*path, "channel_types"),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Only channel options have channel_types.",
            )
        for i, ct in enumerate(
            _check_list(errors, (*path, "channel_types"), channel_types, max_items=20)
        ):
            if ct not in CHANNEL_TYPE_VALUES:
                errors.add(
                    (*path, "channel_types", i), "BASE_TYPE_CHOICES", "Unknown channel type."
                )


def _check_options(
    errors: FormErrors, path: Path, options: Any, *, depth: int, group: bool = False
) -> None:
    items = _check_list(errors, path, options, max_items=COMMAND_OPTIONS_MAX)
    seen: set[str] = set()
    subs = [
        isinstance(o, Mapping) and o.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP)
        for o in items
    ]
    if any(subs) and not all(subs):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands and groups cannot be mixed with other options.",
        )
    if group and not all(
        isinstance(o, Mapping) and o.get("type") == OPTION_SUB_COMMAND for o in items
    ):
        errors.add(
            path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "A group holds only sub-commands."
        )
    optional_seen = False
    for i, opt in enumerate(items):
        _check_option(errors, (*path, i), opt, depth=depth)
        if not isinstance(opt, Mapping):
            continue
        name = opt.get("name")
        if isinstance(name, str):
            if name in seen:
                errors.add(
                    (*path, i, "name"),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique.",
                )
            seen.add(name)
        if opt.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
            continue
        if opt.get("required"):
            if optional_seen:
                errors.add(
                    (*path, i, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True


def check_command(errors: FormErrors, path: Path, command: Any) -> None:
    """One application command as sent in a bulk overwrite."""
    if not isinstance(command, Mapping):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = _check_int(errors, (*path, "type"), command.get("type", 1), lo=1, hi=4)
    if ctype == 1:
        _check_name(errors, (*path, "name"), command.get("name"))
        _check_str(
            errors,
            (*path, "description"),
            command.get("description"),
            max_len=COMMAND_DESCRIPTION_MAX,
            min_len=1,
            required=True,
        )
        _check_localizations(
            errors, (*path, "name_localizations"), command.get("name_localizations"), names=True
        )
        _check_localizations(
            errors,
            (*path, "description_localizations"),
            command.get("description_localizations"),
            names=False,
        )
        _check_options(errors, (*path, "options"), command.get("options"), depth=0)
    else:
        _check_str(
            errors,
            (*path, "name"),
            command.get("name"),
            max_len=COMMAND_NAME_MAX,
            min_len=1,
            required=True,
        )
        if command.get("description"):
            errors.add(
                (*path, "description"),
                "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                "Context menu commands have no description.",
            )
        if command.get("options"):
            errors.add(
                (*path, "options"),
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands have no options.",
            )
    perms = command.get("default_member_permissions")
    if perms is not None:
        value = int(perms) if isinstance(perms, str) and perms.isdigit() else perms
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**54:
            errors.add(
                (*path, "default_member_permissions"),
                "BASE_TYPE_INVALID",
                "Must be a permission bitfield (integer or digit string).",
            )
    for key in ("dm_permission", "nsfw"):
        _check_bool(errors, (*path, key), command.get(key))
    for key, valid in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        value = command.get(key)
        if value is None:
            continue
        items = _check_list(errors, (*path, key), value, max_items=len(valid))
        if not items:
            errors.add((*path, key), "BASE_TYPE_REQUIRED", "Must not be empty.")
        for i, item in enumerate(items):
            if item not in valid:
                errors.add(
                    (*path, key, i), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(valid)}."
                )
    if command_size(command) > COMMAND_SIZE_MAX:
        errors.add(
            path,
            "APPLICATION_COMMAND_TOO_LARGE",
            f"Command exceeds maximum size ({COMMAND_SIZE_MAX})",
        )


def check_commands(errors: FormErrors, body: Any) -> list[Mapping[str, Any]]:
    """A bulk overwrite: valid commands, unique names per type, within the per-type counts."""
    if not isinstance(body, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return []
    seen: set[tuple[int, str]] = set()
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for i, cmd in enumerate(body):
        check_command(errors, (i,), cmd)
        if not isinstance(cmd, Mapping):
            continue
        ctype = cmd.get("type", 1)
        key = (ctype, str(cmd.get("name")))
        if key in seen:
            errors.add(
                (i, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        if ctype in counts:
            counts[ctype] += 1
    if counts[1] > COMMANDS_CHAT_INPUT_MAX:
        _too_long(errors, (), COMMANDS_CHAT_INPUT_MAX)
    if counts[2] > COMMANDS_CONTEXT_MENU_MAX or counts[3] > COMMANDS_CONTEXT_MENU_MAX:
        errors.add((), "APPLICATION_COMMANDS_TOO_MANY", "At most 15 user and 15 message commands.")
    return [c for c in body if isinstance(c, Mapping)]


# ---- interactions and threads -----------------------------------------------------------------


def check_autocomplete_result(errors: FormErrors, data: Any, option_type: int) -> None:
    """Callback type 8: at most 25 choices whose values fit the focused option's type."""
    if not isinstance(data, Mapping):
        errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
        return
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        return
    if len(choices) > AUTOCOMPLETE_CHOICES_MAX:
        _too_long(errors, ("data", "choices"), AUTOCOMPLETE_CHOICES_MAX)
    for i, choice in enumerate(choices):
        cp: Path = ("data", "choices", i)
        if not isinstance(choice, Mapping):
            errors.add(cp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        _check_str(
            errors,
            (*cp, "name"),
            choice.get("name"),
            max_len=COMMAND_CHOICE_NAME_MAX,
            min_len=1,
            required=True,
        )
        _check_choice_value(errors, (*cp, "value"), choice.get("value"), option_type)


def check_modal(errors: FormErrors, data: Any) -> None:
    """Callback type 9: a custom_id, a title of at most 45 and 1-5 components."""
    if not isinstance(data, Mapping):
        errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
        return
    _check_str(
        errors,
        ("data", "custom_id"),
        data.get("custom_id"),
        max_len=CUSTOM_ID_MAX,
        min_len=1,
        required=True,
    )
    _check_str(
        errors,
        ("data", "title"),
        data.get("title"),
        max_len=MODAL_TITLE_MAX,
        min_len=1,
        required=True,
    )
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= ACTION_ROWS_MAX:
        errors.add(
            ("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )


def check_thread(errors: FormErrors, body: Any, *, parent_type: int | None, forum: bool) -> None:
    """A thread or forum post: name 1-100, a documented archive duration, a valid type."""
    if not isinstance(body, Mapping):
        errors.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    _check_str(
        errors, ("name",), body.get("name"), max_len=THREAD_NAME_MAX, min_len=1, required=True
    )
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in THREAD_ARCHIVE_DURATIONS:
        errors.add(
            ("auto_archive_duration",),
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
    _check_int(
        errors, ("rate_limit_per_user",), body.get("rate_limit_per_user"), lo=0, hi=SLOWMODE_MAX
    )
    _check_bool(errors, ("invitable",), body.get("invitable"))
    if forum:
        message = body.get("message")
        if not isinstance(message, Mapping):
            errors.add(("message",), "BASE_TYPE_REQUIRED", "This field is required")
        else:
            check_message(errors, message, kind="forum", path=("message",))
        tags = _check_list(
            errors, ("applied_tags",), body.get("applied_tags"), max_items=APPLIED_TAGS_MAX
        )
        for i, tag in enumerate(tags):
            if not _is_snowflake(tag):
                errors.add(
                    ("applied_tags", i), "NUMBER_TYPE_COERCE", f'Value "{tag}" is not snowflake.'
                )
        return
    if parent_type is None:
        return
    ttype = body.get("type")
    valid = {10} if parent_type == 5 else {11, 12}
    if ttype not in valid:
        errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(valid)}.")
