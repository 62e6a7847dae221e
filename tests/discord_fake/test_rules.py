"""One case per rule: the fake refuses each kind of violation with Discord's status, code and
`errors` path, and accepts bodies that sit exactly at the limits.

Requests go over plain HTTP (discord.py would refuse to build most of these bodies). Interactions
are recorded with `deliver=False` and answered here, so no bot is needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.discord_fake.conftest import Raw
from tests.fakes.discord import FakeDiscord, Perm

PING = {"name": "ping", "description": "Check that the bot answers", "type": 1}
SEARCH = {
    "name": "search",
    "description": "Search papers",
    "options": [
        {"type": 3, "name": "query", "description": "Words", "required": True, "autocomplete": True}
    ],
}
PAPERS = {
    "name": "papers",
    "description": "Show latest papers",
    "options": [
        {
            "type": 3,
            "name": "source",
            "description": "Where to look",
            "required": True,
            "choices": [
                {"name": "Hugging Face", "value": "hf"},
                {"name": "arXiv", "value": "arxiv"},
            ],
        },
        {"type": 4, "name": "limit", "description": "How many", "min_value": 1, "max_value": 10},
    ],
}

Prepare = Callable[[FakeDiscord, Raw], Awaitable[dict[str, Any]]]


async def no_setup(fake: FakeDiscord, raw: Raw) -> dict[str, Any]:
    return {}


def deny(permission: int, channel: str = "papers") -> Prepare:
    async def prepare(fake: FakeDiscord, raw: Raw) -> dict[str, Any]:
        assert fake.world is not None
        await fake.forbid_channel(getattr(fake.world, channel), deny=permission)
        return {}

    return prepare


async def locked_thread(fake: FakeDiscord, raw: Raw) -> dict[str, Any]:
    assert fake.world is not None
    return {"locked": fake.state.add_thread(fake.world.papers.id, "closed", locked=True).id}


def interaction(kind: str = "command", *, answered: bool = False, late: bool = False) -> Prepare:
    async def prepare(fake: FakeDiscord, raw: Raw) -> dict[str, Any]:
        status, _, _ = await raw(
            "PUT", f"/applications/{fake.application_id}/commands", [PING, SEARCH]
        )
        assert status == 200
        if kind == "autocomplete":
            record = await fake.autocomplete(
                "search", {"query": "cau"}, focused="query", deliver=False
            )
        else:
            record = await fake.invoke("ping", deliver=False)
        path = f"/interactions/{record.id}/{record.token}/callback"
        if answered:
            assert (await raw("POST", path, {"type": 5}, auth=False))[0] == 204
        if late:
            fake.clock.advance(fake.interaction_deadline + 0.01)
        return {"callback": path, "webhook": f"/webhooks/{fake.application_id}/{record.token}"}

    return prepare


@dataclass
class Case:
    """A request that breaks one rule, and Discord's answer to it."""

    id: str
    method: str
    path: str
    body: Any
    status: int
    code: int
    errors_at: tuple[str, ...] | None = None
    prepare: Prepare = no_setup
    auth: bool = True
    raw_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


MSG = "/channels/{papers}/messages"
CMDS = "/applications/{app}/commands"


def embed(**parts: Any) -> dict[str, Any]:
    return {"title": "t", **parts}


def option(name: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "d", "required": required, **extra}


def command(**parts: Any) -> list[dict[str, Any]]:
    return [{"name": "papers", "description": "Show papers", "type": 1, **parts}]


def link_button(
    url: str = "https://arxiv.org/abs/1", label: str = "Abstract", **extra: Any
) -> dict[str, Any]:
    return {"type": 2, "style": 5, "label": label, "url": url, **extra}


def link_row(url: str, **extra: Any) -> dict[str, Any]:
    label = extra.pop("label", "Abstract")
    return {"type": 1, "components": [link_button(url, label, **extra)]}


CASES = [
    # --- message bodies ---------------------------------------------------------------------------
    Case("content over 2000", "POST", MSG, {"content": "x" * 2001}, 400, 50035, ("content",)),
    Case("more than 10 embeds", "POST", MSG, {"embeds": [embed()] * 11}, 400, 50035, ("embeds",)),
    Case(
        "title over 256",
        "POST",
        MSG,
        {"embeds": [embed(title="x" * 257)]},
        400,
        50035,
        ("embeds", "0", "title"),
    ),
    Case(
        "description over 4096",
        "POST",
        MSG,
        {"embeds": [embed(description="x" * 4097)]},
        400,
        50035,
        ("embeds", "0", "description"),
    ),
    Case(
        "more than 25 fields",
        "POST",
        MSG,
        {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        400,
        50035,
        ("embeds", "0", "fields"),
    ),
    Case(
        "field name over 256",
        "POST",
        MSG,
        {"embeds": [embed(fields=[{"name": "x" * 257, "value": "v"}])]},
        400,
        50035,
        ("embeds", "0", "fields", "0", "name"),
    ),
    Case(
        "field value over 1024",
        "POST",
        MSG,
        {"embeds": [embed(fields=[{"name": "n", "value": "x" * 1025}])]},
        400,
        50035,
        ("embeds", "0", "fields", "0", "value"),
    ),
    Case(
        "field without a value",
        "POST",
        MSG,
        {"embeds": [embed(fields=[{"name": "n", "value": " "}])]},
        400,
        50035,
        ("embeds", "0", "fields", "0", "value"),
    ),
    Case(
        "footer over 2048",
        "POST",
        MSG,
        {"embeds": [embed(footer={"text": "x" * 2049})]},
        400,
        50035,
        ("embeds", "0", "footer", "text"),
    ),
    Case(
        "author over 256",
        "POST",
        MSG,
        {"embeds": [embed(author={"name": "x" * 257})]},
        400,
        50035,
        ("embeds", "0", "author", "name"),
    ),
    Case(
        "embeds over 6000 in total",
        "POST",
        MSG,
        {"embeds": [{"description": "x" * 3000}, {"description": "x" * 2999, "title": "xy"}]},
        400,
        50035,
        ("embeds",),
    ),
    Case("an empty embed", "POST", MSG, {"embeds": [{"color": 5}]}, 400, 50035, ("embeds", "0")),
    Case(
        "colour out of range",
        "POST",
        MSG,
        {"embeds": [embed(color=1 << 24)]},
        400,
        50035,
        ("embeds", "0", "color"),
    ),
    Case(
        "not a URL",
        "POST",
        MSG,
        {"embeds": [embed(url="huggingface.co")]},
        400,
        50035,
        ("embeds", "0", "url"),
    ),
    Case("empty message", "POST", MSG, {"content": "", "embeds": []}, 400, 50006),
    Case("whitespace only", "POST", MSG, {"content": "  \n "}, 400, 50006),
    Case("nonce over 25", "POST", MSG, {"content": "a", "nonce": "n" * 26}, 400, 50035, ("nonce",)),
    Case(
        "parse users and a user list",
        "POST",
        MSG,
        {"content": "a", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        400,
        50035,
        ("allowed_mentions", "users"),
    ),
    Case(
        "more than 5 action rows",
        "POST",
        MSG,
        {
            "content": "a",
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"b{i}"}],
                }
                for i in range(6)
            ],
        },
        400,
        50035,
        ("components",),
    ),
    Case(
        "duplicate custom ids",
        "POST",
        MSG,
        {
            "content": "a",
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "same"}] * 2,
                }
            ],
        },
        400,
        50035,
        ("components",),
    ),
    Case(
        "a link button with a url over 512",
        "POST",
        MSG,
        {"content": "a", "components": [link_row("https://x.org/" + "a" * 499)]},
        400,
        50035,
        ("components", "0", "components", "0", "url"),
    ),
    Case(
        "a link button without http(s)",
        "POST",
        MSG,
        {"content": "a", "components": [link_row("arxiv.org/abs/1")]},
        400,
        50035,
        ("components", "0", "components", "0", "url"),
    ),
    Case(
        "a link button with a custom_id",
        "POST",
        MSG,
        {"content": "a", "components": [link_row("https://x.org", custom_id="c")]},
        400,
        50035,
        ("components", "0", "components", "0", "custom_id"),
    ),
    Case(
        "a link button label over 80",
        "POST",
        MSG,
        {"content": "a", "components": [link_row("https://x.org", label="l" * 81)]},
        400,
        50035,
        ("components", "0", "components", "0", "label"),
    ),
    Case(
        "six buttons in a row",
        "POST",
        MSG,
        {"content": "a", "components": [{"type": 1, "components": [link_button()] * 6}]},
        400,
        50035,
        ("components", "0", "components"),
    ),
    Case(
        "ephemeral in a channel", "POST", MSG, {"content": "a", "flags": 64}, 400, 50035, ("flags",)
    ),
    Case(
        "invalid JSON",
        "POST",
        MSG,
        None,
        400,
        50109,
        raw_body="{nope",
        headers={"Content-Type": "application/json"},
    ),
    # --- existence, access, permissions, auth -------------------------------------------------------
    Case("unknown channel", "POST", "/channels/123/messages", {"content": "a"}, 404, 10003),
    Case("no View Channel", "POST", "/channels/{hidden}/messages", {"content": "a"}, 403, 50001),
    Case("no Send Messages", "POST", "/channels/{readonly}/messages", {"content": "a"}, 403, 50013),
    Case(
        "no Embed Links",
        "POST",
        MSG,
        {"content": "a", "embeds": [embed()]},
        403,
        50013,
        prepare=deny(Perm.EMBED_LINKS),
    ),
    Case(
        "no Send Messages in Threads",
        "POST",
        "/channels/{thread}/messages",
        {"content": "a"},
        403,
        50013,
        prepare=deny(Perm.SEND_MESSAGES_IN_THREADS),
    ),
    Case(
        "forum post without Send Messages in Threads",
        "POST",
        "/channels/{forum}/threads",
        {"name": "p", "message": {"content": "a"}},
        403,
        50013,
        prepare=deny(Perm.SEND_MESSAGES_IN_THREADS, "forum"),
    ),
    Case(
        "a message straight into a forum",
        "POST",
        "/channels/{forum}/messages",
        {"content": "a"},
        400,
        50008,
    ),
    Case(
        "forum post with no message",
        "POST",
        "/channels/{forum}/threads",
        {"name": "p"},
        400,
        50035,
        ("message",),
    ),
    Case(
        "thread name over 100",
        "POST",
        "/channels/{papers}/threads",
        {"name": "x" * 101, "type": 11},
        400,
        50035,
        ("name",),
    ),
    Case("no token", "GET", "/users/@me", None, 401, 0, auth=False),
    # --- application commands -------------------------------------------------------------------------
    Case("name with a space", "PUT", CMDS, command(name="new papers"), 400, 50035, ("0", "name")),
    Case("name in capitals", "PUT", CMDS, command(name="Papers"), 400, 50035, ("0", "name")),
    Case("name over 32", "PUT", CMDS, command(name="p" * 33), 400, 50035, ("0", "name")),
    Case(
        "empty description", "PUT", CMDS, command(description=""), 400, 50035, ("0", "description")
    ),
    Case(
        "description over 100",
        "PUT",
        CMDS,
        command(description="d" * 101),
        400,
        50035,
        ("0", "description"),
    ),
    Case(
        "more than 25 options",
        "PUT",
        CMDS,
        command(options=[option(f"o{i}") for i in range(26)]),
        400,
        50035,
        ("0", "options"),
    ),
    Case(
        "more than 25 choices",
        "PUT",
        CMDS,
        command(
            options=[option("o", choices=[{"name": f"c{i}", "value": f"c{i}"} for i in range(26)])]
        ),
        400,
        50035,
        ("0", "options", "0", "choices"),
    ),
    Case(
        "required after optional",
        "PUT",
        CMDS,
        command(options=[option("a"), option("b", required=True)]),
        400,
        50035,
        ("0", "options", "1", "required"),
    ),
    Case(
        "autocomplete with choices",
        "PUT",
        CMDS,
        command(options=[option("o", autocomplete=True, choices=[{"name": "c", "value": "c"}])]),
        400,
        50035,
        ("0", "options", "0", "autocomplete"),
    ),
    Case(
        "command over 8000 characters",
        "PUT",
        CMDS,
        command(
            options=[
                option(
                    f"o{i}",
                    description="d" * 100,
                    choices=[{"name": "n" * 100, "value": "v" * 100}] * 2,
                )
                for i in range(25)
            ]
        ),
        400,
        50035,
        ("0",),
    ),
    Case("duplicate command names", "PUT", CMDS, command() + command(), 400, 50035, ("1", "name")),
    # --- interaction callbacks and follow-ups ---------------------------------------------------------
    Case(
        "answer after the deadline",
        "POST",
        "{callback}",
        {"type": 4, "data": {"content": "late"}},
        404,
        10062,
        prepare=interaction(late=True),
        auth=False,
    ),
    Case(
        "a second answer",
        "POST",
        "{callback}",
        {"type": 4, "data": {"content": "again"}},
        400,
        40060,
        prepare=interaction(answered=True),
        auth=False,
    ),
    Case(
        "answer content over 2000",
        "POST",
        "{callback}",
        {"type": 4, "data": {"content": "x" * 2001}},
        400,
        50035,
        ("data", "content"),
        prepare=interaction(),
        auth=False,
    ),
    Case(
        "empty answer",
        "POST",
        "{callback}",
        {"type": 4, "data": {}},
        400,
        50006,
        prepare=interaction(),
        auth=False,
    ),
    Case(
        "autocomplete result for a command",
        "POST",
        "{callback}",
        {"type": 8, "data": {"choices": []}},
        400,
        50035,
        ("type",),
        prepare=interaction(),
        auth=False,
    ),
    Case(
        "defer with flags other than ephemeral",
        "POST",
        "{callback}",
        {"type": 5, "data": {"flags": 4}},
        400,
        50035,
        ("data", "flags"),
        prepare=interaction(),
        auth=False,
    ),
    Case(
        "more than 25 autocomplete choices",
        "POST",
        "{callback}",
        {"type": 8, "data": {"choices": [{"name": f"c{i}", "value": f"c{i}"} for i in range(26)]}},
        400,
        50035,
        ("data", "choices"),
        prepare=interaction("autocomplete"),
        auth=False,
    ),
    Case(
        "follow-up before any answer",
        "POST",
        "{webhook}?wait=true",
        {"content": "early"},
        404,
        10015,
        prepare=interaction(),
        auth=False,
    ),
    Case(
        "follow-up over 10 embeds",
        "POST",
        "{webhook}?wait=true",
        {"embeds": [embed()] * 11},
        400,
        50035,
        ("embeds",),
        prepare=interaction(answered=True),
        auth=False,
    ),
]


async def _send(fake: FakeDiscord, raw: Raw, case: Case) -> tuple[int, Any]:
    world = fake.world
    assert world is not None
    values = {
        "papers": world.papers.id,
        "thread": world.thread.id,
        "forum": world.forum.id,
        "hidden": world.hidden.id,
        "readonly": world.readonly.id,
        "app": fake.application_id,
        **await case.prepare(fake, raw),
    }
    path = case.path.format(**values)
    status, body, _ = await raw(
        case.method, path, case.body, auth=case.auth, data=case.raw_body, headers=case.headers
    )
    return status, body


def _error_paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = set()
    for key, value in tree.items():
        if key == "_errors":
            paths.add(prefix)
        else:
            paths |= _error_paths(value, (*prefix, key))
    return paths


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_each_violation_is_refused(discord_fake: FakeDiscord, raw: Raw, case: Case) -> None:
    status, body = await _send(discord_fake, raw, case)
    assert (status, body["code"]) == (case.status, case.code), body
    assert isinstance(body["message"], str) and body["message"]
    if case.errors_at is not None:
        assert case.errors_at in _error_paths(body["errors"]), body["errors"]
    if status in (401, 403):
        assert discord_fake.invalid_request_count() == 1


AT_THE_LIMITS = [
    Case("content of 2000", "POST", MSG, {"content": "x" * 2000}, 200, 0),
    Case("10 embeds", "POST", MSG, {"embeds": [embed()] * 10}, 200, 0),
    Case(
        "every embed text at its limit, 6000 in total",
        "POST",
        MSG,
        {
            "embeds": [
                {
                    "title": "t" * 256,
                    "description": "d" * 3096,
                    "author": {"name": "a" * 256},
                    "footer": {"text": "f" * 2048},
                    "fields": [{"name": "n" * 8, "value": "v" * 8}] * 21,
                }
            ]
        },
        200,
        0,
    ),
    Case("description of 4096", "POST", MSG, {"embeds": [{"description": "d" * 4096}]}, 200, 0),
    Case(
        "25 fields of 256 and 1024... within 6000",
        "POST",
        MSG,
        {"embeds": [{"fields": [{"name": "n" * 200, "value": "v" * 40}] * 25}]},
        200,
        0,
    ),
    Case(
        "a command at every limit",
        "PUT",
        CMDS,
        [
            {
                "name": "p" * 32,
                "description": "d" * 100,
                "options": [option(f"o{i:02}", required=i < 5) for i in range(24)]
                + [
                    option("last", choices=[{"name": f"c{i}", "value": f"c{i}"} for i in range(25)])
                ],
            }
        ],
        200,
        0,
    ),
    Case("a context-menu command", "PUT", CMDS, [{"name": "Save Paper", "type": 3}], 200, 0),
    Case(
        "five link buttons at their limits",
        "POST",
        MSG,
        {
            "embeds": [embed()],
            "components": [
                {
                    "type": 1,
                    "components": [link_button("https://x.org/" + "a" * 498, "l" * 80)] * 5,
                }
            ],
        },
        200,
        0,
    ),
]


@pytest.mark.parametrize("case", AT_THE_LIMITS, ids=[c.id for c in AT_THE_LIMITS])
async def test_bodies_at_the_limits_are_accepted(
    discord_fake: FakeDiscord, raw: Raw, case: Case
) -> None:
    status, body = await _send(discord_fake, raw, case)
    assert status == 200, body


async def test_two_hundred_command_creates_a_day(discord_fake: FakeDiscord, raw: Raw) -> None:
    path = f"/applications/{discord_fake.application_id}/commands"
    first = [{"name": f"a{i}", "description": "d"} for i in range(100)]
    second = [{"name": f"b{i}", "description": "d"} for i in range(100)]
    assert (await raw("PUT", path, first))[0] == 200
    assert (await raw("PUT", path, second))[0] == 200
    assert (await raw("PUT", path, second))[0] == 200  # nothing new: no creates counted
    status, body, headers = await raw("PUT", path, [{"name": "c", "description": "d"}])
    assert (status, body["code"]) == (429, 30034) and body["retry_after"] > 0 and headers["Via"]
    discord_fake.clock.advance(86_400)
    assert (await raw("PUT", path, [{"name": "c", "description": "d"}]))[0] == 200


async def test_command_ids_survive_an_overwrite(discord_fake: FakeDiscord, raw: Raw) -> None:
    path = f"/applications/{discord_fake.application_id}/commands"
    _, first, _ = await raw("PUT", path, [PING, PAPERS])
    _, second, _ = await raw("PUT", path, [PAPERS])
    assert second[0]["id"] == first[1]["id"]
    assert [c["name"] for c in discord_fake.commands()] == ["papers"]
    assert (await raw("GET", path))[1] == second
