"""The optional OpenAPI check: found beside the repository (or failing loudly), and stricter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.discord_fake.conftest import Raw, audit
from tests.fakes.discord import FakeDiscord, locate_openapi_spec
from tests.fakes.discord.fixtures import FakeFactory
from tests.fakes.discord.records import RequestRecord
from tests.fakes.discord.schema import SPEC_ENV, spec_or_skip

POLL = {
    "poll": {"question": {"text": "q" * 301}, "answers": [{"poll_media": {"text": "a"}}]},
}


def test_the_spec_is_found_beside_the_repository() -> None:
    path = spec_or_skip()
    assert path.is_file() and path.name == "discord_openapi.json"


def test_a_missing_spec_is_an_error_that_says_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    monkeypatch.setenv(SPEC_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        locate_openapi_spec()


async def test_the_spec_refuses_what_the_hand_written_rules_do_not_cover(
    discord_fake: FakeDiscord, raw: Raw
) -> None:
    spec_or_skip()
    assert discord_fake.world is not None and discord_fake.openapi is not None
    path = f"/channels/{discord_fake.world.papers.id}/messages"
    status, body, _ = await raw("POST", path, POLL)
    assert (status, body["code"]) == (400, 50035) and "poll" in body["errors"]

    image = {
        "embeds": [
            {"title": "t", "image": {"url": "https://x.invalid/a.png", "description": "d" * 4097}}
        ]
    }
    status, body, _ = await raw("POST", path, image)
    assert status == 400 and body["errors"]["embeds"]


async def test_the_spec_errors_come_with_the_precise_rule_errors(
    discord_fake: FakeDiscord, raw: Raw
) -> None:
    spec_or_skip()
    assert discord_fake.world is not None
    status, body, _ = await raw(
        "POST",
        f"/channels/{discord_fake.world.papers.id}/messages",
        {"embeds": [{"title": "x" * 257}]},
    )
    assert status == 400
    codes = [e["code"] for e in body["errors"]["embeds"]["0"]["title"]["_errors"]]
    assert "BASE_TYPE_MAX_LENGTH" in codes and any(c.startswith("OPENAPI_") for c in codes)


async def test_without_the_spec_the_fake_is_less_strict(discord_fake_factory: FakeFactory) -> None:
    import aiohttp

    fake = await discord_fake_factory(openapi=None)
    assert fake.world is not None
    async with aiohttp.ClientSession() as session:
        status, _, _ = await Raw(fake, session)(
            "POST", f"/channels/{fake.world.papers.id}/messages", {"content": "a", **POLL}
        )
    assert status == 200


def test_the_audit_of_accepted_bodies_is_not_vacuous() -> None:
    fake = FakeDiscord(openapi=None)
    fake.requests.append(
        RequestRecord(
            "POST",
            "/api/v10/channels/1/messages",
            "/channels/{channel_id}/messages",
            {},
            {"content": "x" * 2001},
            0.0,
            200,
        )
    )
    fake.requests.append(
        RequestRecord(
            "PUT",
            "/api/v10/applications/1/commands",
            "/applications/{application_id}/commands",
            {},
            [{"name": "Bad Name", "description": ""}],
            0.0,
            200,
        )
    )
    assert len(audit(fake)) == 3
