"""Discord's documented limits and error bodies, checked on every request body the fake accepts.

Sources are reference/upstream.md §3 (Discord's docs). Where Discord's behaviour is unclear or
lenient the fake refuses (the fake may be stricter than Discord, never looser): lengths are
measured before Discord's whitespace trimming, whitespace-only required strings count as empty,
an embed with nothing visible is refused, and embeds without EMBED_LINKS are refused even when
the message also has content (Discord would post the content and drop the embed).

What each field allows is a table line below (checker.py interprets it); only the rules that
relate several fields (flags by destination, option types, button styles) are written as code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from .checker import (
    Bool,
    Check,
    DiscordHTTPError,
    FormErrors,
    Int,
    Items,
    Map,
    Obj,
    OneOf,
    Path,
    Snowflake,
    Text,
    Timestamp,
    Url,
    is_snowflake,
)

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


#: Discord's refusals of a DM, by code: the user closed DMs from server members or blocked the
#: bot (50007), or shares no server with the bot any more (50278).
DM_REFUSALS = {
    50007: "Cannot send messages to this user",
    50278: "Cannot send messages to this user due to having no mutual guilds",
}


def dm_refused(code: int) -> DiscordHTTPError:
    """403 50007 (or 50278): the recipient does not accept DMs from the bot."""
    return DiscordHTTPError(403, code, DM_REFUSALS[code])


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


def form_error(path: Sequence[str | int], code: str, message: str) -> DiscordHTTPError:
    """A 50035 error with a single entry."""
    errors = FormErrors()
    errors.add(path, code, message)
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors=errors.tree)


# ---- the table: what each field of a body allows ------------------------------------------------
# Sub-objects (footer, author, fields, select options, choices) are shared wherever they appear.

DESCRIPTION = Text(COMMAND_DESCRIPTION_MAX, required=True)
SNOWFLAKES = Snowflake()

FOOTER = Obj({"text": Text(EMBED_FOOTER_MAX, required=True), "icon_url": Url()})
AUTHOR = Obj({"name": Text(EMBED_AUTHOR_MAX, required=True), "url": Url(), "icon_url": Url()})
MEDIA = Obj({"url": Url(required=True)})  # image and thumbnail
FIELD = Obj(
    {
        "name": Text(EMBED_FIELD_NAME_MAX, required=True),
        "value": Text(EMBED_FIELD_VALUE_MAX, required=True),
        "inline": Bool(),
    }
)
EMBED = Obj(
    {
        "type": OneOf((None, "rich"), "Only rich embeds may be sent.", "EMBED_TYPE_INVALID"),
        "title": Text(EMBED_TITLE_MAX),
        "description": Text(EMBED_DESCRIPTION_MAX),
        "url": Url(),
        "color": Int(0, COLOR_MAX),
        "timestamp": Timestamp(),
        "footer": FOOTER,
        "author": AUTHOR,
        "image": MEDIA,
        "thumbnail": MEDIA,
        "fields": Items(FIELD, EMBED_FIELDS_MAX),
    }
)
ALLOWED_MENTIONS = Obj(
    {
        "parse": Items(
            OneOf(
                ("users", "roles", "everyone"),
                "Value must be one of ('users', 'roles', 'everyone').",
            ),
            3,
        ),
        "users": Items(SNOWFLAKES, MENTION_IDS_MAX),
        "roles": Items(SNOWFLAKES, MENTION_IDS_MAX),
        "replied_user": Bool(),
    }
)
BUTTON = Obj({"style": Int(1, 6, required=True), "label": Text(BUTTON_LABEL_MAX)})
CUSTOM_ID = Text(CUSTOM_ID_MAX, required=True)
SELECT = Obj(
    {
        "custom_id": CUSTOM_ID,
        "placeholder": Text(SELECT_PLACEHOLDER_MAX),
        "min_values": Int(0, SELECT_OPTIONS_MAX),
        "max_values": Int(1, SELECT_OPTIONS_MAX),
    }
)
SELECT_OPTIONS = Items(
    Obj(
        {
            "label": Text(SELECT_TEXT_MAX, required=True),
            "value": Text(SELECT_TEXT_MAX, required=True),
            "description": Text(SELECT_TEXT_MAX),
        }
    ),
    SELECT_OPTIONS_MAX,
    required=True,
    min_items=1,
)
THREAD = Obj(
    {
        "name": Text(THREAD_NAME_MAX, required=True),
        "auto_archive_duration": OneOf(
            (None, *sorted(THREAD_ARCHIVE_DURATIONS)),
            "Value must be one of {60, 1440, 4320, 10080}.",
        ),
        "rate_limit_per_user": Int(0, SLOWMODE_MAX),
        "invitable": Bool(),
    }
)
MODAL = Obj({"custom_id": CUSTOM_ID, "title": Text(MODAL_TITLE_MAX, required=True)})


# ---- messages ---------------------------------------------------------------------------------


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters that count towards the 6000 limit: title, description, fields, footer, author."""

    def text(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    def part(key: str, inner: str) -> int:
        value = embed.get(key)
        return text(value.get(inner)) if isinstance(value, Mapping) else 0

    total = text(embed.get("title")) + text(embed.get("description"))
    for fld in embed.get("fields") or []:
        if isinstance(fld, Mapping):
            total += text(fld.get("name")) + text(fld.get("value"))
    return total + part("footer", "text") + part("author", "name")


_VISIBLE_EMBED_PARTS = ("title", "description", "fields", "author", "footer", "image", "thumbnail")


def check_embed(errors: FormErrors, path: Path, embed: Any) -> None:
    """One embed against the table, and Discord's rule that something in it must show."""
    if EMBED.check_item(errors, path, embed) is None:
        return
    if not any(embed.get(k) for k in _VISIBLE_EMBED_PARTS):
        errors.add(
            path,
            "EMBED_EMPTY",
            "Embed must have a title, description, field, author, footer or image.",
        )


def check_embeds(errors: FormErrors, path: Path, embeds: Any) -> list[Any]:
    """Up to 10 embeds, each valid, together at most 6000 characters."""
    items = Items(Check(check_embed), EMBEDS_MAX).check(errors, path, embeds)
    total = sum(embed_length(e) for e in items if isinstance(e, Mapping))
    if total > EMBED_TOTAL_MAX:
        errors.add(
            path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
        )
    return items


def check_allowed_mentions(errors: FormErrors, path: Path, value: Any) -> None:
    """`parse` from {users, roles, everyone}; id lists of at most 100, exclusive with parse."""
    got = ALLOWED_MENTIONS.check(errors, path, value)
    if got is None:
        return
    for kind in ("users", "roles"):
        if got[kind] and kind in got["parse"]:
            errors.add(
                (*path, kind),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )


def _check_button(
    errors: FormErrors, path: Path, button: Mapping[str, Any], custom_ids: list[str]
) -> None:
    style = (BUTTON.check(errors, path, button) or {})["style"]
    if not button.get("label") and not button.get("emoji") and style != 6:
        errors.add(
            path, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or an emoji is required."
        )
    if style == 5:
        url = Url(required=True).check(errors, (*path, "url"), button.get("url"))
        if url is not None and len(url) > BUTTON_URL_MAX:
            errors.too_long((*path, "url"), BUTTON_URL_MAX)
        elif url is not None and url.startswith("attachment://"):
            errors.add((*path, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        if button.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "Link buttons cannot have a custom_id.",
            )
    elif style == 6:
        if not is_snowflake(button.get("sku_id")):
            errors.required((*path, "sku_id"))
    else:
        cid = CUSTOM_ID.check(errors, (*path, "custom_id"), button.get("custom_id"))
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
    got = SELECT.check(errors, path, select) or {}
    if got["custom_id"]:
        custom_ids.append(got["custom_id"])
    lo, hi = got["min_values"], got["max_values"]
    if select.get("type") == 3:
        options = SELECT_OPTIONS.check(errors, (*path, "options"), select.get("options"))
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


def _check_row(
    errors: FormErrors, path: Path, row: Mapping[str, Any], custom_ids: list[str]
) -> None:
    if row["type"] != 1:
        errors.add(
            (*path, "type"), "COMPONENT_LAYOUT_INVALID", "Top-level components must be action rows."
        )
        return
    items = row.get("components")
    if not isinstance(items, list) or not items:
        errors.required((*path, "components"))
        return
    if len(items) > ROW_ITEMS_MAX:
        errors.too_long((*path, "components"), ROW_ITEMS_MAX)
    kinds = {c.get("type") for c in items if isinstance(c, Mapping)}
    if kinds - {2} and len(items) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "A select menu must be alone in its row.",
        )
    for j, item in enumerate(items):
        ip = (*path, "components", j)
        if not isinstance(item, Mapping):
            errors.not_object(ip)
        elif item.get("type") == 2:
            _check_button(errors, ip, item, custom_ids)
        elif item.get("type") in (3, 5, 6, 7, 8):
            _check_select(errors, ip, item, custom_ids)
        else:
            errors.add(
                (*ip, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type in an action row."
            )


def check_components(errors: FormErrors, path: Path, components: Any, *, v2: bool) -> None:
    """Action rows of buttons or one select (or, with IS_COMPONENTS_V2, up to 40 components)."""
    limit = COMPONENTS_V2_MAX if v2 else ACTION_ROWS_MAX
    rows = Items(None, limit).check(errors, path, components)
    custom_ids: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("type"), int):
            errors.add(
                (*path, i),
                "COMPONENT_TYPE_INVALID",
                "Components must be objects with an integer type.",
            )
        elif not v2:
            _check_row(errors, (*path, i), row, custom_ids)
    if len(custom_ids) != len(set(custom_ids)):
        errors.add(
            path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
        )


def _check_nonce(errors: FormErrors, path: Path, nonce: Any) -> None:
    if nonce is None:
        return
    if isinstance(nonce, bool) or not isinstance(nonce, (int, str)):
        errors.add(path, "BASE_TYPE_STRING", "Nonce must be an integer or a string.")
    elif isinstance(nonce, str) and len(nonce) > NONCE_MAX:
        errors.too_long(path, NONCE_MAX)
    elif isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
        errors.add(path, "NUMBER_TYPE_MAX", "Nonce must fit in 64 bits.")


def _check_reference(errors: FormErrors, path: Path, ref: Any) -> None:
    if ref is not None and (
        not isinstance(ref, Mapping) or not is_snowflake(ref.get("message_id"))
    ):
        errors.add(path, "BASE_TYPE_REQUIRED", "message_reference needs a message_id.")


MESSAGE = Obj(
    {
        "content": Text(CONTENT_MAX),
        "embeds": Check(check_embeds),
        "allowed_mentions": Check(check_allowed_mentions),
        "flags": Int(0, 2**31 - 1),
        "tts": Bool(),
        "enforce_nonce": Bool(),
        "nonce": Check(_check_nonce),
        "sticker_ids": Items(SNOWFLAKES, STICKERS_MAX),
        "attachments": Items(None, ATTACHMENTS_MAX),
        "message_reference": Check(_check_reference),
    }
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
    got = MESSAGE.check_item(errors, path, body)
    if got is None:
        return
    flags = got["flags"]
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
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", problem)
    elif all(_name_char_ok(ch) for ch in name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", problem)
    else:
        errors.add(path, "STRING_TYPE_REGEX", problem)


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


NAME = Check(_check_name)
NAMED = {  # what every chat-input command and option has
    "name": NAME,
    "description": DESCRIPTION,
    "name_localizations": Map(NAME),
    "description_localizations": Map(DESCRIPTION),
}
OPTION = Obj(
    {
        "type": Int(1, 11, required=True),
        **NAMED,
        "required": Bool(),
        "autocomplete": Bool(),
    }
)
CHOICE = Obj({"name": DESCRIPTION, "name_localizations": Map(DESCRIPTION)})
AUTOCOMPLETE_CHOICE = Obj({"name": DESCRIPTION})
CHAT_INPUT = Obj(NAMED)
CONTEXT_MENU = Obj({"name": Text(COMMAND_NAME_MAX, required=True)})
COMMAND = Obj(
    {
        "dm_permission": Bool(),
        "nsfw": Bool(),
        "contexts": Items(OneOf((0, 1, 2), "Value must be one of [0, 1, 2]."), 3),
        "integration_types": Items(OneOf((0, 1), "Value must be one of [0, 1]."), 2),
    }
)
CHOICE_VALUES = {
    OPTION_STRING: Text(COMMAND_CHOICE_STRING_MAX, required=True),
    OPTION_INTEGER: Int(-INTEGER_BOUND, INTEGER_BOUND, required=True),
}
CHANNEL_TYPES = Items(OneOf(tuple(sorted(CHANNEL_TYPE_VALUES)), "Unknown channel type."), 20)


def _check_choice_value(errors: FormErrors, path: Path, value: Any, option_type: int) -> None:
    rule = CHOICE_VALUES.get(option_type)
    if rule is not None:
        rule.check(errors, path, value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
    elif abs(value) > INTEGER_BOUND:
        errors.add(path, "NUMBER_TYPE_MAX", "Number out of range.")


def _check_sub_command(errors: FormErrors, path: Path, opt: Mapping[str, Any], depth: int) -> None:
    otype = opt["type"]
    if opt.get("required"):
        errors.add(
            (*path, "required"),
            "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
            "Sub-commands cannot be required.",
        )
    if otype == OPTION_SUB_COMMAND_GROUP and depth > 0:
        errors.add(
            (*path, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Groups cannot be nested."
        )
    if otype == OPTION_SUB_COMMAND and depth > 1:
        errors.add((*path, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Too deeply nested.")
    _check_options(
        errors,
        (*path, "options"),
        opt.get("options"),
        depth=depth + 1,
        group=otype == OPTION_SUB_COMMAND_GROUP,
    )


def _check_choices(errors: FormErrors, path: Path, opt: Mapping[str, Any], otype: int) -> None:
    choices = opt.get("choices")
    if not choices:
        return
    if otype not in CHOICE_TYPES:
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
            "This option type cannot have choices.",
        )
    for i, choice in enumerate(Items(None, COMMAND_CHOICES_MAX).check(errors, path, choices)):
        if CHOICE.check_item(errors, (*path, i), choice) is not None and otype in CHOICE_TYPES:
            _check_choice_value(errors, (*path, i, "value"), choice.get("value"), otype)
    if opt.get("autocomplete"):
        errors.add(
            (*path[:-1], "autocomplete"),
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_AND_CHOICES",
            "Autocomplete cannot be set with choices.",
        )


def _mismatch(errors: FormErrors, path: Path, code: str, message: str) -> None:
    """An attribute this option type cannot have."""
    errors.add(path, f"APPLICATION_COMMAND_OPTION_{code}", message)


def _check_bounds(errors: FormErrors, path: Path, opt: Mapping[str, Any], otype: int) -> None:
    """min/max value for numbers, min/max length for strings, each pair in order."""
    for key in ("min_value", "max_value"):
        value = opt.get(key)
        if value is None:
            continue
        if otype not in (OPTION_INTEGER, OPTION_NUMBER):
            _mismatch(
                errors,
                (*path, key),
                "RANGE_INVALID",
                "Only integer and number options have a range.",
            )
        else:
            _check_choice_value(errors, (*path, key), value, otype)
    lo, hi = opt.get("min_value"), opt.get("max_value")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
        _mismatch(
            errors, (*path, "min_value"), "RANGE_INVALID", "min_value must not exceed max_value."
        )
    for key, floor in (("min_length", 0), ("max_length", 1)):
        if opt.get(key) is None:
            continue
        if otype != OPTION_STRING:
            _mismatch(errors, (*path, key), "LENGTH_INVALID", "Only string options have a length.")
        else:
            Int(floor, COMMAND_LENGTH_BOUND).check(errors, (*path, key), opt.get(key))
    lo_len, hi_len = opt.get("min_length"), opt.get("max_length")
    if isinstance(lo_len, int) and isinstance(hi_len, int) and lo_len > hi_len:
        _mismatch(
            errors,
            (*path, "min_length"),
            "LENGTH_INVALID",
            "min_length must not exceed max_length.",
        )


def _check_option(errors: FormErrors, path: Path, opt: Any, *, depth: int) -> None:
    got = OPTION.check_item(errors, path, opt)
    if got is None or got["type"] is None:
        return
    otype = got["type"]
    if otype in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
        _check_sub_command(errors, path, opt, depth)
        return
    if opt.get("options"):
        _mismatch(errors, (*path, "options"), "TYPE_INVALID", "Only sub-commands have options.")
    _check_choices(errors, (*path, "choices"), opt, otype)
    if opt.get("autocomplete") and otype not in CHOICE_TYPES:
        _mismatch(
            errors,
            (*path, "autocomplete"),
            "AUTOCOMPLETE_INVALID",
            "This option type cannot autocomplete.",
        )
    _check_bounds(errors, path, opt, otype)
    channel_types = opt.get("channel_types")
    if channel_types:
        if otype != OPTION_CHANNEL:
            _mismatch(
                errors,
                (*path, "channel_types"),
                "TYPE_INVALID",
                "Only channel options have channel_types.",
            )
        CHANNEL_TYPES.check(errors, (*path, "channel_types"), channel_types)


def _is_sub(option: Any) -> bool:
    return isinstance(option, Mapping) and option.get("type") in (
        OPTION_SUB_COMMAND,
        OPTION_SUB_COMMAND_GROUP,
    )


def _check_options(
    errors: FormErrors, path: Path, options: Any, *, depth: int, group: bool = False
) -> None:
    items = Items(None, COMMAND_OPTIONS_MAX).check(errors, path, options)
    subs = [_is_sub(o) for o in items]
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
    seen: set[str] = set()
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
        if _is_sub(opt):
            continue
        if not opt.get("required"):
            optional_seen = True
        elif optional_seen:
            errors.add(
                (*path, i, "required"),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )


def _check_permissions(errors: FormErrors, path: Path, perms: Any) -> None:
    if perms is None:
        return
    value = int(perms) if isinstance(perms, str) and perms.isdigit() else perms
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**54:
        errors.add(
            path,
            "BASE_TYPE_INVALID",
            "Must be a permission bitfield (integer or digit string).",
        )


def check_command(errors: FormErrors, path: Path, command: Any) -> None:
    """One application command as sent in a bulk overwrite."""
    if not isinstance(command, Mapping):
        errors.not_object(path)
        return
    ctype = Int(1, 4).check(errors, (*path, "type"), command.get("type", 1))
    if ctype == 1:
        CHAT_INPUT.check(errors, path, command)
        _check_options(errors, (*path, "options"), command.get("options"), depth=0)
    else:
        CONTEXT_MENU.check(errors, path, command)
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
    _check_permissions(
        errors, (*path, "default_member_permissions"), command.get("default_member_permissions")
    )
    got = COMMAND.check(errors, path, command) or {}
    for key in ("contexts", "integration_types"):
        if command.get(key) is not None and not got[key]:
            errors.add((*path, key), "BASE_TYPE_REQUIRED", "Must not be empty.")
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
        errors.too_long((), COMMANDS_CHAT_INPUT_MAX)
    if counts[2] > COMMANDS_CONTEXT_MENU_MAX or counts[3] > COMMANDS_CONTEXT_MENU_MAX:
        errors.add((), "APPLICATION_COMMANDS_TOO_MANY", "At most 15 user and 15 message commands.")
    return [c for c in body if isinstance(c, Mapping)]


# ---- interactions and threads -----------------------------------------------------------------


def check_autocomplete_result(errors: FormErrors, data: Any, option_type: int) -> None:
    """Callback type 8: at most 25 choices whose values fit the focused option's type."""
    if not isinstance(data, Mapping):
        errors.required(("data",))
        return
    path: Path = ("data", "choices")
    choices = Items(None, AUTOCOMPLETE_CHOICES_MAX, required=True).check(
        errors, path, data.get("choices")
    )
    for i, choice in enumerate(choices):
        if AUTOCOMPLETE_CHOICE.check_item(errors, (*path, i), choice) is not None:
            _check_choice_value(errors, (*path, i, "value"), choice.get("value"), option_type)


def check_modal(errors: FormErrors, data: Any) -> None:
    """Callback type 9: a custom_id, a title of at most 45 and 1-5 components."""
    if not isinstance(data, Mapping):
        errors.required(("data",))
        return
    MODAL.check(errors, ("data",), data)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= ACTION_ROWS_MAX:
        errors.add(
            ("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )


def check_thread(errors: FormErrors, body: Any, *, parent_type: int | None, forum: bool) -> None:
    """A thread or forum post: name 1-100, a documented archive duration, a valid type."""
    if THREAD.check_item(errors, (), body) is None:
        return
    if forum:
        message = body.get("message")
        if not isinstance(message, Mapping):
            errors.required(("message",))
        else:
            check_message(errors, message, kind="forum", path=("message",))
        Items(SNOWFLAKES, APPLIED_TAGS_MAX).check(
            errors, ("applied_tags",), body.get("applied_tags")
        )
        return
    if parent_type is None:
        return
    ttype = body.get("type")
    valid = [10] if parent_type == 5 else [11, 12]
    if ttype not in valid:
        errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {valid}.")
