"""The fake upstream keeps its promises: routing by query, scripted sequences, records."""

from __future__ import annotations

import httpx

from tests.fakes.upstreams import Reply, UpstreamScript, VirtualClock, mock_transport


async def test_routes_pick_the_most_specific_query_and_repeat_their_last_reply() -> None:
    script = UpstreamScript()
    script.route("/a", Reply.json("any"))
    script.route("/a", Reply(500), Reply.json("page one"), query={"p": 1})
    async with httpx.AsyncClient(transport=mock_transport(script)) as client:
        answers = [
            (await client.get("https://x.example/a", params=q)).status_code
            for q in ({"p": 1}, {"p": 1}, {"p": 1}, {"p": 2})
        ]
        assert answers == [500, 200, 200, 200]
        assert (await client.get("https://x.example/a?p=2")).json() == "any"
        assert (await client.get("https://x.example/b")).status_code == 404


async def test_requests_are_recorded_with_query_headers_and_virtual_time() -> None:
    vclock = VirtualClock()
    script = UpstreamScript(clock=vclock.clock, sleep=vclock.sleep)
    script.pages("/list", [Reply.json([1]), Reply.json([])])
    async with httpx.AsyncClient(transport=mock_transport(script)) as client:
        await client.get("https://x.example/list", params={"p": 0}, headers={"X-Test": "yes"})
        await vclock.sleep(3)
        await client.get("https://x.example/list", params={"p": 1})
    first, second = script.requests_to("/list")
    assert first.query == {"p": "0"} and first.headers["x-test"] == "yes"
    assert second.at - first.at == 3
