"""Every rule of the fake's hand-written checker, pinned: each body below is checked directly
(no HTTP) and must produce exactly these errors (path, Discord code, message), so the checker can
be restructured without changing a single answer. `test_rules.py` proves the same rules end to end.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.discord import rules

Expected = list[tuple[str, str, str]]

# (id, checker, body, keyword arguments); one line per case, so the table reads as a table
# fmt: off
CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
 # embeds: every field of the embed table
 ("embed not an object", "message", {"embeds": ["e"]}, {}),
 ("embed type not rich", "message", {"embeds": [{"title": "t", "type": "video"}]}, {}),
 ("embed title not a string", "message", {"embeds": [{"title": 5, "description": "d"}]}, {}),
 ("embed title and description over", "message", {"embeds": [{"title": "x"*257, "description": "x"*4097}]}, {}),
 ("embed url bad and too long", "message", {"embeds": [{"title": "t", "url": "ftp://x"}, {"title": "t", "url": "https://x/" + "a"*2040}]}, {}),
 ("embed color wrong type and negative", "message", {"embeds": [{"title": "t", "color": "red"}, {"title": "t", "color": -1}, {"title": "t", "color": True}]}, {}),
 ("embed timestamp", "message", {"embeds": [{"title": "t", "timestamp": "yesterday"}, {"title": "t", "timestamp": "2024-01-01T00:00:00Z"}]}, {}),
 ("footer not an object", "message", {"embeds": [{"title": "t", "footer": "f"}]}, {}),
 ("footer text missing, blank, long, icon bad", "message", {"embeds": [{"title": "t", "footer": {}}, {"title": "t", "footer": {"text": " "}}, {"title": "t", "footer": {"text": "x"*2049, "icon_url": "nope"}}, {"title": "t", "footer": {"text": 3}}]}, {}),
 ("author not an object", "message", {"embeds": [{"title": "t", "author": ["a"]}]}, {}),
 ("author name missing, long, urls bad", "message", {"embeds": [{"title": "t", "author": {"url": "x y"}}, {"title": "t", "author": {"name": "x"*257, "icon_url": "a b", "url": "https://ok.org"}}]}, {}),
 ("image and thumbnail", "message", {"embeds": [{"title": "t", "image": "i", "thumbnail": {}}, {"title": "t", "image": {"url": "attachment://a.png"}, "thumbnail": {"url": "bad"}}, {"image": {"url": ""}}]}, {}),
 ("fields not a list", "message", {"embeds": [{"title": "t", "fields": {"name": "n"}}]}, {}),
 ("field not an object and field problems", "message", {"embeds": [{"title": "t", "fields": ["f", {}, {"name": "x"*257, "value": "x"*1025, "inline": "yes"}, {"name": " ", "value": 1}]}]}, {}),
 ("embed empty of visible parts", "message", {"embeds": [{"url": "https://x.org", "color": 1, "timestamp": "2024-01-01T00:00:00"}, {"title": ""}, {"fields": []}]}, {}),
 ("embeds not a list", "message", {"content": "a", "embeds": {"title": "t"}}, {}),
 ("embeds total over 6000 counting fields footer author", "message", {"embeds": [{"fields": [{"name": "n"*200, "value": "v"*1000}]*5}, {"footer": {"text": "f"*2}, "author": {"name": "a"*2}}]}, {}),
 ("embed length ignores non-strings", "message", {"embeds": [{"title": "t", "fields": ["x", {"name": 1, "value": None}], "footer": "f", "author": "a"}]}, {}),
 # allowed mentions
 ("allowed_mentions not an object", "message", {"content": "a", "allowed_mentions": []}, {}),
 ("allowed_mentions parse", "message", {"content": "a", "allowed_mentions": {"parse": ["users", "channels", "roles", "everyone"]}}, {}),
 ("allowed_mentions parse not a list", "message", {"content": "a", "allowed_mentions": {"parse": "users"}}, {}),
 ("allowed_mentions ids", "message", {"content": "a", "allowed_mentions": {"users": ["1", "x", -1, True, 2**64], "roles": [str(i) for i in range(101)], "replied_user": 1}}, {}),
 ("allowed_mentions parse and roles", "message", {"content": "a", "allowed_mentions": {"parse": ["roles"], "roles": ["1"], "users": []}}, {}),
 # flags
 ("flags wrong type", "message", {"content": "a", "flags": "64"}, {}),
 ("flags out of range", "message", {"content": "a", "flags": 2**31}, {}),
 ("flags not settable on create", "message", {"content": "a", "flags": 64 | 128}, {}),
 ("flags ephemeral on interaction", "message", {"content": "a", "flags": 64 | 4096 | 4}, {"kind": "interaction"}),
 ("flags on edit", "message", {"content": "a", "flags": 4096}, {"kind": "edit"}),
 ("flags on edit kept from the message", "message", {"content": "a", "flags": 4096 | 4}, {"kind": "edit", "existing_flags": 4096}),
 ("components v2 with content", "message", {"content": "a", "flags": 1 << 15, "components": [{"type": 10, "content": "x"}]}, {}),
 ("components v2 from the existing message", "message", {"embeds": [{"title": "t"}], "components": [{"type": 17}]}, {"kind": "edit", "existing_flags": 1 << 15}),
 ("components v2 over 40 and typeless", "message", {"flags": 1 << 15, "components": [{"type": 10}]*40 + [{"type": "x"}]}, {}),
 # other message fields
 ("content not a string", "message", {"content": 5}, {}),
 ("tts and enforce_nonce not booleans", "message", {"content": "a", "tts": "yes", "enforce_nonce": 0}, {}),
 ("nonce wrong type", "message", {"content": "a", "nonce": 1.5}, {}),
 ("nonce bool", "message", {"content": "a", "nonce": True}, {}),
 ("nonce int over 64 bits", "message", {"content": "a", "nonce": 2**63}, {}),
 ("nonce at limits", "message", {"content": "a", "nonce": "n"*25}, {}),
 ("nonce negative int at limit", "message", {"content": "a", "nonce": -(2**63)}, {}),
 ("stickers", "message", {"sticker_ids": ["1", "2", "x", "4"]}, {}),
 ("stickers not a list", "message", {"sticker_ids": "1"}, {}),
 ("attachments over 10", "message", {"content": "a", "attachments": [{}]*11}, {}),
 ("message_reference", "message", {"content": "a", "message_reference": {"channel_id": "1"}}, {}),
 ("message_reference not an object", "message", {"content": "a", "message_reference": "1"}, {}),
 ("message_reference ok", "message", {"content": "a", "message_reference": {"message_id": 5}}, {}),
 ("message not an object", "message", ["a"], {}),
 ("message at a nested path", "message", {"content": "x"*2001, "embeds": [{}]}, {"kind": "forum", "path": ("message",)}),
 # components v1
 ("components not a list", "message", {"content": "a", "components": {"type": 1}}, {}),
 ("component rows not objects or typeless", "message", {"content": "a", "components": ["r", {"type": None}, {"components": []}]}, {}),
 ("top-level not an action row", "message", {"content": "a", "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "c"}]}, {}),
 ("row components missing or empty or not a list", "message", {"content": "a", "components": [{"type": 1}, {"type": 1, "components": []}, {"type": 1, "components": "b"}]}, {}),
 ("row item not an object or unknown type", "message", {"content": "a", "components": [{"type": 1, "components": ["b"]}, {"type": 1, "components": [{"type": 4}]}, {"type": 1, "components": [{}]}]}, {}),
 ("select not alone in a row", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 5, "custom_id": "u"}, {"type": 2, "style": 1, "label": "b", "custom_id": "c"}]}]}, {}),
 ("button style missing", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "label": "b", "custom_id": "c"}]}]}, {}),
 ("button style out of range and wrong type", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 7, "label": "b", "custom_id": "c"}, {"type": 2, "style": "1", "label": "b", "custom_id": "d"}]}]}, {}),
 ("button without label or emoji", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c"}, {"type": 2, "style": 1, "custom_id": "d", "emoji": {"name": "x"}}, {"type": 2, "style": 1, "custom_id": "e", "label": ""}]}]}, {}),
 ("button label not a string", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c", "label": 5}]}]}, {}),
 ("button custom_id missing long blank", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b"}, {"type": 2, "style": 2, "label": "b", "custom_id": "c"*101}, {"type": 2, "style": 3, "label": "b", "custom_id": " "}, {"type": 2, "style": 4, "label": "b", "custom_id": "ok", "url": "https://x.org"}]}]}, {}),
 ("link button url missing", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 5, "label": "b"}]}]}, {}),
 ("link button attachment url", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 5, "label": "b", "url": "attachment://x.png"}]}]}, {}),
 ("link button url over 2048", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 5, "label": "b", "url": "https://x.org/" + "a"*2040}]}]}, {}),
 ("premium button", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 6}, {"type": 2, "style": 6, "sku_id": "12"}, {"type": 2, "style": 6, "sku_id": "x", "label": "l"}]}]}, {}),
 ("duplicate custom ids across rows and selects", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "same"}]}, {"type": 1, "components": [{"type": 8, "custom_id": "same"}]}]}, {}),
 ("select custom_id placeholder values", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 6, "placeholder": "p"*151, "min_values": -1, "max_values": 26}]}, {"type": 1, "components": [{"type": 7, "custom_id": "s", "min_values": 5, "max_values": 2}]}, {"type": 1, "components": [{"type": 5, "custom_id": "t", "min_values": "1", "max_values": 0}]}]}, {}),
 ("string select options missing", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 3, "custom_id": "s"}]}, {"type": 1, "components": [{"type": 3, "custom_id": "t", "options": []}]}, {"type": 1, "components": [{"type": 3, "custom_id": "u", "options": "o"}]}]}, {}),
 ("string select options over 25 and max_values over options", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 3, "custom_id": "s", "options": [{"label": "l", "value": "v"}]*26}]}, {"type": 1, "components": [{"type": 3, "custom_id": "t", "max_values": 3, "options": [{"label": "l", "value": "v"}]*2}]}]}, {}),
 ("string select option problems", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 3, "custom_id": "s", "options": ["o", {}, {"label": "l"*101, "value": "v"*101, "description": "d"*101}, {"label": " ", "value": 3, "description": None}]}]}]}, {}),
 ("string select at limits", "message", {"content": "a", "components": [{"type": 1, "components": [{"type": 3, "custom_id": "c"*100, "placeholder": "p"*150, "min_values": 0, "max_values": 25, "options": [{"label": "l"*100, "value": f"v{i}", "description": "d"*100} for i in range(25)]}]}]}, {}),
 # commands
 ("commands not a list", "commands", {"name": "x"}, {}),
 ("command not an object", "commands", ["c"], {}),
 ("command type out of range", "commands", [{"name": "a", "description": "d", "type": 5}], {}),
 ("command type wrong type", "commands", [{"name": "a", "description": "d", "type": "1"}], {}),
 ("command names", "commands", [{"name": "", "description": "d"}, {"name": "a b", "description": "d"}, {"name": "Abc", "description": "d"}, {"name": 5, "description": "d"}, {"name": "Ab c", "description": "d"}, {"name": "ok-_'é9", "description": "d"}, {"name": "नमस्ते", "description": "d"}], {}),
 ("command description missing blank not string", "commands", [{"name": "a"}, {"name": "b", "description": " "}, {"name": "c", "description": 1}], {}),
 ("command localizations", "commands", [{"name": "a", "description": "d", "name_localizations": {"fr": "Bad", "de": "gut", "es": "x y"}, "description_localizations": {"fr": "", "de": "d"*101, "es": "ok"}}], {}),
 ("command localizations not objects", "commands", [{"name": "a", "description": "d", "name_localizations": ["fr"], "description_localizations": "x"}], {}),
 ("context menu with description and options", "commands", [{"name": "Save Paper", "type": 3, "description": "d", "options": [{}]}, {"name": "", "type": 2}, {"name": "n"*33, "type": 2}], {}),
 ("default_member_permissions", "commands", [{"name": "a", "description": "d", "default_member_permissions": "8"}, {"name": "b", "description": "d", "default_member_permissions": "x"}, {"name": "c", "description": "d", "default_member_permissions": -1}, {"name": "e", "description": "d", "default_member_permissions": True}, {"name": "f", "description": "d", "default_member_permissions": 2**54}], {}),
 ("dm_permission and nsfw", "commands", [{"name": "a", "description": "d", "dm_permission": "no", "nsfw": 1}], {}),
 ("contexts and integration types", "commands", [{"name": "a", "description": "d", "contexts": [], "integration_types": [0, 1, 2]}, {"name": "b", "description": "d", "contexts": [0, 3], "integration_types": "0"}, {"name": "c", "description": "d", "contexts": [0, 1, 2, 0]}], {}),
 ("too many chat input commands", "commands", [{"name": f"c{i}", "description": "d"} for i in range(101)], {}),
 ("too many user commands", "commands", [{"name": f"U{i}", "type": 2} for i in range(16)], {}),
 ("too many message commands", "commands", [{"name": f"M{i}", "type": 3} for i in range(16)], {}),
 ("same name in two types", "commands", [{"name": "a", "description": "d"}, {"name": "a", "type": 2}, {"name": "a", "type": 3}, {"name": "a", "type": 2}], {}),
 ("options not a list", "commands", [{"name": "a", "description": "d", "options": {}}], {}),
 ("option not an object", "commands", [{"name": "a", "description": "d", "options": ["o"]}], {}),
 ("option type missing and out of range", "commands", [{"name": "a", "description": "d", "options": [{"name": "o", "description": "d"}, {"type": 12, "name": "p", "description": "d"}]}], {}),
 ("option name description localizations bools", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "O", "description": "", "name_localizations": {"fr": "X"}, "description_localizations": {"fr": 5}, "required": "y", "autocomplete": "n"}]}], {}),
 ("option names unique", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "o", "description": "d"}, {"type": 4, "name": "o", "description": "d"}]}], {}),
 ("sub-command required and mixed", "commands", [{"name": "a", "description": "d", "options": [{"type": 1, "name": "s", "description": "d", "required": True}, {"type": 3, "name": "o", "description": "d"}]}], {}),
 ("group nesting", "commands", [{"name": "a", "description": "d", "options": [{"type": 2, "name": "g", "description": "d", "options": [{"type": 2, "name": "h", "description": "d", "options": [{"type": 1, "name": "s", "description": "d", "options": [{"type": 1, "name": "t", "description": "d"}]}]}, {"type": 3, "name": "x", "description": "d"}]}]}], {}),
 ("sub-command too deep", "commands", [{"name": "a", "description": "d", "options": [{"type": 1, "name": "s", "description": "d", "options": [{"type": 1, "name": "t", "description": "d", "options": [{"type": 1, "name": "u", "description": "d"}]}]}]}], {}),
 ("options under a non sub-command", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "o", "description": "d", "options": [{"type": 3, "name": "p", "description": "d"}]}]}], {}),
 ("choices on a boolean and autocomplete on a boolean", "commands", [{"name": "a", "description": "d", "options": [{"type": 5, "name": "b", "description": "d", "choices": [{"name": "y", "value": True}]}, {"type": 5, "name": "c", "description": "d", "autocomplete": True}]}], {}),
 ("choices not a list and not objects", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "b", "description": "d", "choices": "x"}, {"type": 3, "name": "c", "description": "d", "choices": ["x", {"value": "v", "name_localizations": {"fr": ""}}, {"name": "n"*101, "value": "v"*101}]}]}], {}),
 ("choice values by type", "commands", [{"name": "a", "description": "d", "options": [{"type": 4, "name": "i", "description": "d", "choices": [{"name": "a", "value": 1.5}, {"name": "b", "value": 2**53}, {"name": "c", "value": None}, {"name": "d", "value": True}]}, {"type": 10, "name": "n", "description": "d", "choices": [{"name": "a", "value": "1"}, {"name": "b", "value": 1e16}, {"name": "c", "value": False}, {"name": "d", "value": 2.5}]}, {"type": 3, "name": "s", "description": "d", "choices": [{"name": "a", "value": 1}, {"name": "b", "value": ""}]}]}], {}),
 ("ranges", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "s", "description": "d", "min_value": 1}, {"type": 4, "name": "i", "description": "d", "min_value": 5, "max_value": 2}, {"type": 10, "name": "n", "description": "d", "min_value": "x", "max_value": 1e20}, {"type": 4, "name": "j", "description": "d", "min_value": 1.5}]}], {}),
 ("lengths", "commands", [{"name": "a", "description": "d", "options": [{"type": 4, "name": "i", "description": "d", "min_length": 1}, {"type": 3, "name": "s", "description": "d", "min_length": -1, "max_length": 0}, {"type": 3, "name": "t", "description": "d", "min_length": 10, "max_length": 5}, {"type": 3, "name": "u", "description": "d", "max_length": 6001, "min_length": "1"}]}], {}),
 ("channel types", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "s", "description": "d", "channel_types": [0]}, {"type": 7, "name": "c", "description": "d", "channel_types": [0, 6, 99]}, {"type": 7, "name": "e", "description": "d", "channel_types": "0"}, {"type": 7, "name": "f", "description": "d", "channel_types": list(range(21))}]}], {}),
 ("group with a plain option", "commands", [{"name": "a", "description": "d", "options": [{"type": 2, "name": "g", "description": "d", "options": [{"type": 3, "name": "o", "description": "d"}]}]}], {}),
 ("required after optional among subs skipped", "commands", [{"name": "a", "description": "d", "options": [{"type": 3, "name": "a", "description": "d"}, "x", {"type": 3, "name": "b", "description": "d", "required": True}, {"type": 3, "name": "c", "description": "d", "required": True}]}], {}),
 ("command size counts localizations and choices", "commands", [{"name": "a", "description": "d"*100, "description_localizations": {f"l{i}": "d"*100 for i in range(30)}, "options": [{"type": 3, "name": "o", "description": "d"*100, "description_localizations": {f"l{i}": "d"*100 for i in range(30)}, "choices": [{"name": "n"*100, "value": "v"*100, "name_localizations": {"fr": "n"*100}}]*10}]}], {}),
 # threads
 ("thread not an object", "thread", ["t"], {"parent_type": 0, "forum": False}),
 ("thread name missing and fields", "thread", {"auto_archive_duration": 30, "rate_limit_per_user": 21601, "invitable": "y", "type": 11}, {"parent_type": 0, "forum": False}),
 ("thread type in a text channel", "thread", {"name": "t", "type": 10}, {"parent_type": 0, "forum": False}),
 ("thread type in an announcement channel", "thread", {"name": "t", "type": 11}, {"parent_type": 5, "forum": False}),
 ("thread from a message", "thread", {"name": "t", "rate_limit_per_user": -1, "auto_archive_duration": 1440}, {"parent_type": None, "forum": False}),
 ("forum post message not an object", "thread", {"name": "t", "message": "m"}, {"parent_type": 15, "forum": True}),
 ("forum post message problems and tags", "thread", {"name": " ", "message": {"content": "x"*2001, "flags": 64}, "applied_tags": ["1", "x", 2, "3", "4", "5"]}, {"parent_type": 15, "forum": True}),
 ("forum post tags not a list", "thread", {"name": "t", "message": {"content": "a"}, "applied_tags": "1"}, {"parent_type": 15, "forum": True}),
 # modals
 ("modal not an object", "modal", None, {}),
 ("modal fields", "modal", {"title": "t"*46, "components": []}, {}),
 ("modal blank and too many rows", "modal", {"custom_id": " ", "title": "", "components": [{}]*6}, {}),
 ("modal components not a list", "modal", {"custom_id": "c", "title": "t", "components": "x"}, {}),
 ("modal at limits", "modal", {"custom_id": "c"*100, "title": "t"*45, "components": [{}]*5}, {}),
 # autocomplete results
 ("autocomplete data not an object", "autocomplete", "x", {"option_type": 3}),
 ("autocomplete choices missing", "autocomplete", {}, {"option_type": 3}),
 ("autocomplete choices over 25 and bad", "autocomplete", {"choices": [{"name": "n", "value": "v"}]*25 + ["x", {"value": 1}, {"name": "n"*101, "value": "v"*101}]}, {"option_type": 3}),
 ("autocomplete integer and number values", "autocomplete", {"choices": [{"name": "a", "value": "1"}, {"name": "b", "value": 2**60}]}, {"option_type": 4}),
 ("autocomplete number values", "autocomplete", {"choices": [{"name": "a", "value": "1"}, {"name": "b", "value": 1.5}]}, {"option_type": 10}),
]

EXPECTED: dict[str, Expected] = {
    'embed not an object': [
        ('embeds.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'embed type not rich': [
        ('embeds.0.type', 'EMBED_TYPE_INVALID', 'Only rich embeds may be sent.'),
    ],
    'embed title not a string': [
        ('embeds.0.title', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'embed title and description over': [
        ('embeds.0.title', 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.'),
        ('embeds.0.description', 'BASE_TYPE_MAX_LENGTH', 'Must be 4096 or fewer in length.'),
    ],
    'embed url bad and too long': [
        ('embeds.0.url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
        ('embeds.1.url', 'BASE_TYPE_MAX_LENGTH', 'Must be 2048 or fewer in length.'),
    ],
    'embed color wrong type and negative': [
        ('embeds.0.color', 'NUMBER_TYPE_COERCE', 'Value "red" is not int.'),
        ('embeds.1.color', 'NUMBER_TYPE_MIN', 'int value should be between 0 and 16777215.'),
        ('embeds.2.color', 'NUMBER_TYPE_COERCE', 'Value "True" is not int.'),
    ],
    'embed timestamp': [
        ('embeds.0.timestamp', 'DATE_TYPE_PARSE', 'Could not parse timestamp. Should be ISO8601.'),
    ],
    'footer not an object': [
        ('embeds.0.footer', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'footer text missing, blank, long, icon bad': [
        ('embeds.0.footer.text', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.1.footer.text', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.2.footer.text', 'BASE_TYPE_MAX_LENGTH', 'Must be 2048 or fewer in length.'),
        ('embeds.2.footer.icon_url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
        ('embeds.3.footer.text', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'author not an object': [
        ('embeds.0.author', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'author name missing, long, urls bad': [
        ('embeds.0.author.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.0.author.url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
        ('embeds.1.author.name', 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.'),
        ('embeds.1.author.icon_url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
    ],
    'image and thumbnail': [
        ('embeds.0.image', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('embeds.0.thumbnail.url', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.1.thumbnail.url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
        ('embeds.2.image.url', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'fields not a list': [
        ('embeds.0.fields', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'field not an object and field problems': [
        ('embeds.0.fields.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('embeds.0.fields.1.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.0.fields.1.value', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.0.fields.2.name', 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.'),
        ('embeds.0.fields.2.value', 'BASE_TYPE_MAX_LENGTH', 'Must be 1024 or fewer in length.'),
        ('embeds.0.fields.2.inline', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
        ('embeds.0.fields.3.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('embeds.0.fields.3.value', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'embed empty of visible parts': [
        ('embeds.0', 'EMBED_EMPTY', 'Embed must have a title, description, field, author, footer or image.'),
        ('embeds.1', 'EMBED_EMPTY', 'Embed must have a title, description, field, author, footer or image.'),
        ('embeds.2', 'EMBED_EMPTY', 'Embed must have a title, description, field, author, footer or image.'),
    ],
    'embeds not a list': [
        ('embeds', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'embeds total over 6000 counting fields footer author': [
        ('embeds', 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000'),
    ],
    'embed length ignores non-strings': [
        ('embeds.0.footer', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('embeds.0.author', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('embeds.0.fields.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('embeds.0.fields.1.name', 'BASE_TYPE_STRING', 'Value must be a string.'),
        ('embeds.0.fields.1.value', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'allowed_mentions not an object': [
        ('allowed_mentions', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'allowed_mentions parse': [
        ('allowed_mentions.parse', 'BASE_TYPE_MAX_LENGTH', 'Must be 3 or fewer in length.'),
        ('allowed_mentions.parse.1', 'BASE_TYPE_CHOICES', "Value must be one of ('users', 'roles', 'everyone')."),
    ],
    'allowed_mentions parse not a list': [
        ('allowed_mentions.parse', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'allowed_mentions ids': [
        ('allowed_mentions.users.1', 'NUMBER_TYPE_COERCE', 'Value "x" is not snowflake.'),
        ('allowed_mentions.users.2', 'NUMBER_TYPE_COERCE', 'Value "-1" is not snowflake.'),
        ('allowed_mentions.users.3', 'NUMBER_TYPE_COERCE', 'Value "True" is not snowflake.'),
        ('allowed_mentions.users.4', 'NUMBER_TYPE_COERCE', 'Value "18446744073709551616" is not snowflake.'),
        ('allowed_mentions.roles', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('allowed_mentions.replied_user', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
    ],
    'allowed_mentions parse and roles': [
        ('allowed_mentions.roles', 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse:["roles"] and roles: [ids...] are mutually exclusive.'),
    ],
    'flags wrong type': [
        ('flags', 'NUMBER_TYPE_COERCE', 'Value "64" is not int.'),
    ],
    'flags out of range': [
        ('flags', 'NUMBER_TYPE_MAX', 'int value should be between 0 and 2147483647.'),
        ('flags', 'MESSAGE_FLAGS_INVALID', 'Only flags 36868 can be set here.'),
    ],
    'flags not settable on create': [
        ('flags', 'MESSAGE_FLAGS_INVALID', 'Only flags 36868 can be set here.'),
    ],
    'flags ephemeral on interaction': [
    ],
    'flags on edit': [
        ('flags', 'MESSAGE_FLAGS_INVALID', 'Only flags 32772 can be set here.'),
    ],
    'flags on edit kept from the message': [
    ],
    'components v2 with content': [
        ('content', 'MESSAGE_CONTENT_COMPONENTS_V2', 'Content and embeds cannot be used with IS_COMPONENTS_V2.'),
    ],
    'components v2 from the existing message': [
        ('content', 'MESSAGE_CONTENT_COMPONENTS_V2', 'Content and embeds cannot be used with IS_COMPONENTS_V2.'),
    ],
    'components v2 over 40 and typeless': [
        ('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 40 or fewer in length.'),
        ('components.40', 'COMPONENT_TYPE_INVALID', 'Components must be objects with an integer type.'),
    ],
    'content not a string': [
        ('content', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'tts and enforce_nonce not booleans': [
        ('tts', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
        ('enforce_nonce', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
    ],
    'nonce wrong type': [
        ('nonce', 'BASE_TYPE_STRING', 'Nonce must be an integer or a string.'),
    ],
    'nonce bool': [
        ('nonce', 'BASE_TYPE_STRING', 'Nonce must be an integer or a string.'),
    ],
    'nonce int over 64 bits': [
        ('nonce', 'NUMBER_TYPE_MAX', 'Nonce must fit in 64 bits.'),
    ],
    'nonce at limits': [
    ],
    'nonce negative int at limit': [
    ],
    'stickers': [
        ('sticker_ids', 'BASE_TYPE_MAX_LENGTH', 'Must be 3 or fewer in length.'),
        ('sticker_ids.2', 'NUMBER_TYPE_COERCE', 'Value "x" is not snowflake.'),
    ],
    'stickers not a list': [
        ('sticker_ids', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'attachments over 10': [
        ('attachments', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.'),
    ],
    'message_reference': [
        ('message_reference', 'BASE_TYPE_REQUIRED', 'message_reference needs a message_id.'),
    ],
    'message_reference not an object': [
        ('message_reference', 'BASE_TYPE_REQUIRED', 'message_reference needs a message_id.'),
    ],
    'message_reference ok': [
    ],
    'message not an object': [
        ('', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'message at a nested path': [
        ('message.content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.'),
        ('message.embeds.0', 'EMBED_EMPTY', 'Embed must have a title, description, field, author, footer or image.'),
    ],
    'components not a list': [
        ('components', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'component rows not objects or typeless': [
        ('components.0', 'COMPONENT_TYPE_INVALID', 'Components must be objects with an integer type.'),
        ('components.1', 'COMPONENT_TYPE_INVALID', 'Components must be objects with an integer type.'),
        ('components.2', 'COMPONENT_TYPE_INVALID', 'Components must be objects with an integer type.'),
    ],
    'top-level not an action row': [
        ('components.0.type', 'COMPONENT_LAYOUT_INVALID', 'Top-level components must be action rows.'),
    ],
    'row components missing or empty or not a list': [
        ('components.0.components', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.1.components', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.2.components', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'row item not an object or unknown type': [
        ('components.0.components.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('components.1.components.0.type', 'COMPONENT_TYPE_INVALID', 'Invalid component type in an action row.'),
        ('components.2.components.0.type', 'COMPONENT_TYPE_INVALID', 'Invalid component type in an action row.'),
    ],
    'select not alone in a row': [
        ('components.0.components', 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'A select menu must be alone in its row.'),
    ],
    'button style missing': [
        ('components.0.components.0.style', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'button style out of range and wrong type': [
        ('components.0.components.0.style', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 6.'),
        ('components.0.components.1.style', 'NUMBER_TYPE_COERCE', 'Value "1" is not int.'),
    ],
    'button without label or emoji': [
        ('components.0.components.0', 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or an emoji is required.'),
        ('components.0.components.2', 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or an emoji is required.'),
    ],
    'button label not a string': [
        ('components.0.components.0.label', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'button custom_id missing long blank': [
        ('components.0.components.0.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.1.custom_id', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('components.0.components.2.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.3.url', 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'Only link buttons can have a url.'),
    ],
    'link button url missing': [
        ('components.0.components.0.url', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'link button attachment url': [
        ('components.0.components.0.url', 'URL_TYPE_INVALID_URL', 'Not a well formed URL.'),
    ],
    'link button url over 2048': [
        ('components.0.components.0.url', 'BASE_TYPE_MAX_LENGTH', 'Must be 2048 or fewer in length.'),
        ('components.0.components.0.url', 'BASE_TYPE_MAX_LENGTH', 'Must be 512 or fewer in length.'),
    ],
    'premium button': [
        ('components.0.components.0.sku_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.2.sku_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'duplicate custom ids across rows and selects': [
        ('components', 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated'),
    ],
    'select custom_id placeholder values': [
        ('components.0.components.0.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.0.placeholder', 'BASE_TYPE_MAX_LENGTH', 'Must be 150 or fewer in length.'),
        ('components.0.components.0.min_values', 'NUMBER_TYPE_MIN', 'int value should be between 0 and 25.'),
        ('components.0.components.0.max_values', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 25.'),
        ('components.1.components.0.min_values', 'SELECT_COMPONENT_MIN_GT_MAX', 'min_values must not exceed max_values.'),
        ('components.2.components.0.min_values', 'NUMBER_TYPE_COERCE', 'Value "1" is not int.'),
        ('components.2.components.0.max_values', 'NUMBER_TYPE_MIN', 'int value should be between 1 and 25.'),
    ],
    'string select options missing': [
        ('components.0.components.0.options', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.1.components.0.options', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.2.components.0.options', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'string select options over 25 and max_values over options': [
        ('components.0.components.0.options', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.'),
        ('components.1.components.0.max_values', 'SELECT_COMPONENT_MAX_VALUES_TOO_LARGE', 'max_values exceeds the number of options.'),
    ],
    'string select option problems': [
        ('components.0.components.0.options.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('components.0.components.0.options.1.label', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.0.options.1.value', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.0.options.2.label', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('components.0.components.0.options.2.value', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('components.0.components.0.options.2.description', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('components.0.components.0.options.3.label', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('components.0.components.0.options.3.value', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'string select at limits': [
    ],
    'commands not a list': [
        ('', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'command not an object': [
        ('0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'command type out of range': [
        ('0.type', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 4.'),
        ('0.description', 'APPLICATION_COMMAND_DESCRIPTION_INVALID', 'Context menu commands have no description.'),
    ],
    'command type wrong type': [
        ('0.type', 'NUMBER_TYPE_COERCE', 'Value "1" is not int.'),
        ('0.description', 'APPLICATION_COMMAND_DESCRIPTION_INVALID', 'Context menu commands have no description.'),
    ],
    'command names': [
        ('0.name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.'),
        ('1.name', 'STRING_TYPE_REGEX', 'String value did not match validation regex.'),
        ('2.name', 'APPLICATION_COMMAND_INVALID_NAME', 'Command name must be lowercase.'),
        ('3.name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.'),
        ('4.name', 'STRING_TYPE_REGEX', 'String value did not match validation regex.'),
    ],
    'command description missing blank not string': [
        ('0.description', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('1.description', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('2.description', 'BASE_TYPE_STRING', 'Value must be a string.'),
    ],
    'command localizations': [
        ('0.name_localizations.fr', 'APPLICATION_COMMAND_INVALID_NAME', 'Command name must be lowercase.'),
        ('0.name_localizations.es', 'STRING_TYPE_REGEX', 'String value did not match validation regex.'),
        ('0.description_localizations.fr', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.description_localizations.de', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
    ],
    'command localizations not objects': [
        ('0.name_localizations', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('0.description_localizations', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'context menu with description and options': [
        ('0.description', 'APPLICATION_COMMAND_DESCRIPTION_INVALID', 'Context menu commands have no description.'),
        ('0.options', 'APPLICATION_COMMAND_OPTIONS_INVALID', 'Context menu commands have no options.'),
        ('1.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('2.name', 'BASE_TYPE_MAX_LENGTH', 'Must be 32 or fewer in length.'),
    ],
    'default_member_permissions': [
        ('1.default_member_permissions', 'BASE_TYPE_INVALID', 'Must be a permission bitfield (integer or digit string).'),
        ('2.default_member_permissions', 'BASE_TYPE_INVALID', 'Must be a permission bitfield (integer or digit string).'),
        ('3.default_member_permissions', 'BASE_TYPE_INVALID', 'Must be a permission bitfield (integer or digit string).'),
        ('4.default_member_permissions', 'BASE_TYPE_INVALID', 'Must be a permission bitfield (integer or digit string).'),
    ],
    'dm_permission and nsfw': [
        ('0.dm_permission', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
        ('0.nsfw', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
    ],
    'contexts and integration types': [
        ('0.contexts', 'BASE_TYPE_REQUIRED', 'Must not be empty.'),
        ('0.integration_types', 'BASE_TYPE_MAX_LENGTH', 'Must be 2 or fewer in length.'),
        ('0.integration_types.2', 'BASE_TYPE_CHOICES', 'Value must be one of [0, 1].'),
        ('1.contexts.1', 'BASE_TYPE_CHOICES', 'Value must be one of [0, 1, 2].'),
        ('1.integration_types', 'BASE_TYPE_ARRAY', 'Must be an array.'),
        ('1.integration_types', 'BASE_TYPE_REQUIRED', 'Must not be empty.'),
        ('2.contexts', 'BASE_TYPE_MAX_LENGTH', 'Must be 3 or fewer in length.'),
    ],
    'too many chat input commands': [
        ('', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
    ],
    'too many user commands': [
        ('', 'APPLICATION_COMMANDS_TOO_MANY', 'At most 15 user and 15 message commands.'),
    ],
    'too many message commands': [
        ('', 'APPLICATION_COMMANDS_TOO_MANY', 'At most 15 user and 15 message commands.'),
    ],
    'same name in two types': [
        ('3.name', 'APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique'),
    ],
    'options not a list': [
        ('0.options', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'option not an object': [
        ('0.options.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'option type missing and out of range': [
        ('0.options.0.type', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.options.1.type', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 11.'),
    ],
    'option name description localizations bools': [
        ('0.options.0.name', 'APPLICATION_COMMAND_INVALID_NAME', 'Command name must be lowercase.'),
        ('0.options.0.description', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.options.0.name_localizations.fr', 'APPLICATION_COMMAND_INVALID_NAME', 'Command name must be lowercase.'),
        ('0.options.0.description_localizations.fr', 'BASE_TYPE_STRING', 'Value must be a string.'),
        ('0.options.0.required', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
        ('0.options.0.autocomplete', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
    ],
    'option names unique': [
        ('0.options.1.name', 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option names must be unique.'),
    ],
    'sub-command required and mixed': [
        ('0.options', 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-commands and groups cannot be mixed with other options.'),
        ('0.options.0.required', 'APPLICATION_COMMAND_OPTION_REQUIRED_INVALID', 'Sub-commands cannot be required.'),
    ],
    'group nesting': [
        ('0.options.0.options', 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Sub-commands and groups cannot be mixed with other options.'),
        ('0.options.0.options', 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'A group holds only sub-commands.'),
        ('0.options.0.options.0.type', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Groups cannot be nested.'),
        ('0.options.0.options.0.options.0.type', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Too deeply nested.'),
        ('0.options.0.options.0.options.0.options.0.type', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Too deeply nested.'),
    ],
    'sub-command too deep': [
        ('0.options.0.options.0.options.0.type', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Too deeply nested.'),
    ],
    'options under a non sub-command': [
        ('0.options.0.options', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Only sub-commands have options.'),
    ],
    'choices on a boolean and autocomplete on a boolean': [
        ('0.options.0.choices', 'APPLICATION_COMMAND_OPTION_CHOICES_INVALID', 'This option type cannot have choices.'),
        ('0.options.1.autocomplete', 'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID', 'This option type cannot autocomplete.'),
    ],
    'choices not a list and not objects': [
        ('0.options.0.choices', 'BASE_TYPE_ARRAY', 'Must be an array.'),
        ('0.options.1.choices.0', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('0.options.1.choices.1.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.options.1.choices.1.name_localizations.fr', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.options.1.choices.2.name', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('0.options.1.choices.2.value', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
    ],
    'choice values by type': [
        ('0.options.0.choices.0.value', 'NUMBER_TYPE_COERCE', 'Value "1.5" is not int.'),
        ('0.options.0.choices.1.value', 'NUMBER_TYPE_MAX', 'int value should be between -9007199254740991 and 9007199254740991.'),
        ('0.options.0.choices.2.value', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('0.options.0.choices.3.value', 'NUMBER_TYPE_COERCE', 'Value "True" is not int.'),
        ('0.options.1.choices.0.value', 'NUMBER_TYPE_COERCE', 'Value "1" is not a valid number.'),
        ('0.options.1.choices.1.value', 'NUMBER_TYPE_MAX', 'Number out of range.'),
        ('0.options.1.choices.2.value', 'NUMBER_TYPE_COERCE', 'Value "False" is not a valid number.'),
        ('0.options.2.choices.0.value', 'BASE_TYPE_STRING', 'Value must be a string.'),
        ('0.options.2.choices.1.value', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'ranges': [
        ('0.options.0.min_value', 'APPLICATION_COMMAND_OPTION_RANGE_INVALID', 'Only integer and number options have a range.'),
        ('0.options.1.min_value', 'APPLICATION_COMMAND_OPTION_RANGE_INVALID', 'min_value must not exceed max_value.'),
        ('0.options.2.min_value', 'NUMBER_TYPE_COERCE', 'Value "x" is not a valid number.'),
        ('0.options.2.max_value', 'NUMBER_TYPE_MAX', 'Number out of range.'),
        ('0.options.3.min_value', 'NUMBER_TYPE_COERCE', 'Value "1.5" is not int.'),
    ],
    'lengths': [
        ('0.options.0.min_length', 'APPLICATION_COMMAND_OPTION_LENGTH_INVALID', 'Only string options have a length.'),
        ('0.options.1.min_length', 'NUMBER_TYPE_MIN', 'int value should be between 0 and 6000.'),
        ('0.options.1.max_length', 'NUMBER_TYPE_MIN', 'int value should be between 1 and 6000.'),
        ('0.options.2.min_length', 'APPLICATION_COMMAND_OPTION_LENGTH_INVALID', 'min_length must not exceed max_length.'),
        ('0.options.3.min_length', 'NUMBER_TYPE_COERCE', 'Value "1" is not int.'),
        ('0.options.3.max_length', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 6000.'),
    ],
    'channel types': [
        ('0.options.0.channel_types', 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Only channel options have channel_types.'),
        ('0.options.1.channel_types.1', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.1.channel_types.2', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.2.channel_types', 'BASE_TYPE_ARRAY', 'Must be an array.'),
        ('0.options.3.channel_types', 'BASE_TYPE_MAX_LENGTH', 'Must be 20 or fewer in length.'),
        ('0.options.3.channel_types.6', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.7', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.8', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.9', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.17', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.18', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.19', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
        ('0.options.3.channel_types.20', 'BASE_TYPE_CHOICES', 'Unknown channel type.'),
    ],
    'group with a plain option': [
        ('0.options.0.options', 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'A group holds only sub-commands.'),
    ],
    'required after optional among subs skipped': [
        ('0.options.1', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('0.options.2.required', 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options'),
        ('0.options.3.required', 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options'),
    ],
    'command size counts localizations and choices': [
        ('0', 'APPLICATION_COMMAND_TOO_LARGE', 'Command exceeds maximum size (8000)'),
    ],
    'thread not an object': [
        ('', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
    ],
    'thread name missing and fields': [
        ('name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('auto_archive_duration', 'BASE_TYPE_CHOICES', 'Value must be one of {60, 1440, 4320, 10080}.'),
        ('rate_limit_per_user', 'NUMBER_TYPE_MAX', 'int value should be between 0 and 21600.'),
        ('invitable', 'BASE_TYPE_BOOLEAN', 'Must be either true or false.'),
    ],
    'thread type in a text channel': [
        ('type', 'BASE_TYPE_CHOICES', 'Value must be one of [11, 12].'),
    ],
    'thread type in an announcement channel': [
        ('type', 'BASE_TYPE_CHOICES', 'Value must be one of [10].'),
    ],
    'thread from a message': [
        ('rate_limit_per_user', 'NUMBER_TYPE_MIN', 'int value should be between 0 and 21600.'),
    ],
    'forum post message not an object': [
        ('message', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'forum post message problems and tags': [
        ('name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('message.content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.'),
        ('message.flags', 'MESSAGE_FLAGS_INVALID', 'Only flags 36868 can be set here.'),
        ('applied_tags', 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.'),
        ('applied_tags.1', 'NUMBER_TYPE_COERCE', 'Value "x" is not snowflake.'),
    ],
    'forum post tags not a list': [
        ('applied_tags', 'BASE_TYPE_ARRAY', 'Must be an array.'),
    ],
    'modal not an object': [
        ('data', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'modal fields': [
        ('data.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('data.title', 'BASE_TYPE_MAX_LENGTH', 'Must be 45 or fewer in length.'),
        ('data.components', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.'),
    ],
    'modal blank and too many rows': [
        ('data.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('data.title', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('data.components', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.'),
    ],
    'modal components not a list': [
        ('data.components', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.'),
    ],
    'modal at limits': [
    ],
    'autocomplete data not an object': [
        ('data', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'autocomplete choices missing': [
        ('data.choices', 'BASE_TYPE_REQUIRED', 'This field is required'),
    ],
    'autocomplete choices over 25 and bad': [
        ('data.choices', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.'),
        ('data.choices.25', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType'),
        ('data.choices.26.name', 'BASE_TYPE_REQUIRED', 'This field is required'),
        ('data.choices.26.value', 'BASE_TYPE_STRING', 'Value must be a string.'),
        ('data.choices.27.name', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
        ('data.choices.27.value', 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.'),
    ],
    'autocomplete integer and number values': [
        ('data.choices.0.value', 'NUMBER_TYPE_COERCE', 'Value "1" is not int.'),
        ('data.choices.1.value', 'NUMBER_TYPE_MAX', 'int value should be between -9007199254740991 and 9007199254740991.'),
    ],
    'autocomplete number values': [
        ('data.choices.0.value', 'NUMBER_TYPE_COERCE', 'Value "1" is not a valid number.'),
    ],
}
# fmt: on


def _check(checker: str, body: Any, kwargs: dict[str, Any]) -> rules.FormErrors:
    errors = rules.FormErrors()
    if checker == "message":
        rules.check_message(errors, body, **{"kind": "create", **kwargs})
    elif checker == "commands":
        rules.check_commands(errors, body)
    elif checker == "thread":
        rules.check_thread(errors, body, **kwargs)
    elif checker == "modal":
        rules.check_modal(errors, body)
    else:
        rules.check_autocomplete_result(errors, body, kwargs["option_type"])
    return errors


def _flat(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> Expected:
    found: Expected = []
    for key, value in tree.items():
        if key == "_errors":
            found += [(".".join(prefix), e["code"], e["message"]) for e in value]
        else:
            found += _flat(value, (*prefix, key))
    return found


def test_every_case_has_its_expectation() -> None:
    assert [c[0] for c in CASES] == list(EXPECTED)


@pytest.mark.parametrize(
    ("checker", "body", "kwargs", "expected"),
    [(c[1], c[2], c[3], EXPECTED[c[0]]) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rule_answers_are_pinned(
    checker: str, body: Any, kwargs: dict[str, Any], expected: Expected
) -> None:
    errors = _check(checker, body, kwargs)
    # the order of keys in the tree is not part of Discord's answer; the errors at each path are
    assert sorted(_flat(errors.tree)) == sorted(expected)
    assert bool(errors) == bool(expected)
