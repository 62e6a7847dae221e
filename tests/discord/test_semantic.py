"""Issue 17 in Discord: /related, /paper's Related button, and what they say without the extra."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.semantic import INSTALL_HINT, semantic_available
from tests.discord.conftest import Harness
from tests.discord.test_reader import CALLBACK_DEFERRED, CALLBACK_MESSAGE, answered_in_time
from tests.factories import NOW
from tests.pg.fixtures import backend_params
from tests.semantic.support import real_papers

needs_extra = pytest.mark.skipif(not semantic_available(), reason=INSTALL_HINT)
DDPM, LATENT_DIFFUSION = "2006.11239", "2112.10752"


@functools.cache
def embedder() -> Any:
    from bot.semantic.model import OnnxEmbedder

    return OnnxEmbedder(threads=2)


@functools.cache
def real_vectors() -> list[tuple[str, bytes]]:
    """The real papers' vectors, computed once for the whole module."""
    from bot.semantic.model import paper_text
    from bot.semantic.vectors import to_blob

    papers = real_papers()
    matrix = embedder().embed([paper_text(p.title, p.abstract) for p in papers])
    return [(p.id, to_blob(row)) for p, row in zip(papers, matrix, strict=True)]


def attach_semantic(h: Harness) -> Any:
    """The harness's bot as `open_services` builds it when the extra is installed."""
    from bot.services.semantic import Semantic

    semantic = Semantic(h.store, embedder())
    services = h.bot.services
    services.semantic = services.poller.semantic = semantic
    services.feeds.semantic = services.follows.semantic = semantic
    return semantic


async def with_semantic(h: Harness) -> Any:
    """The harness's bot with the extra in use: the model loaded, real papers embedded."""
    semantic = attach_semantic(h)
    await h.store.papers.upsert(real_papers())
    await h.store.vectors.put(embedder().model_id, real_vectors())
    return semantic


def component_ids(message: Any) -> set[str]:
    return {c["custom_id"] for row in message.components for c in row.get("components", [])}


# -- without the extra ----------------------------------------------------------------------------


async def test_without_the_extra_related_answers_with_the_install_line(harness: Harness) -> None:
    h = harness
    await h.store.papers.upsert(real_papers())
    record = await h.fake.invoke("related", {"paper": DDPM})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_MESSAGE)
    assert reply.ephemeral and reply.content == INSTALL_HINT


async def test_without_the_extra_paper_has_no_related_button(harness: Harness) -> None:
    h = harness
    await h.store.papers.upsert(real_papers())
    reply = await h.fake.wait_for_original(await h.fake.invoke("paper", {"id": DDPM}))
    assert f"paper:related:{DDPM}" not in component_ids(reply)


# -- with the extra -------------------------------------------------------------------------------


@needs_extra
async def test_related_lists_the_nearest_papers_with_their_similarity(harness: Harness) -> None:
    h = harness
    await with_semantic(h)
    record = await h.fake.invoke("related", {"paper": f"https://arxiv.org/abs/{DDPM}v2"})
    reply = await h.fake.wait_for_original(record)
    answered_in_time(record, CALLBACK_DEFERRED)
    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == "Related to: Denoising Diffusion Probabilistic Models"
    first = embed["description"].split("\n**2.**")[0]
    assert "High-Resolution Image Synthesis with Latent Diffusion Models" in first
    assert " · similarity 0.8" in first
    assert embed["description"].count("similarity") == 10
    assert "Denoising Diffusion Probabilistic" not in embed["description"]  # not itself


@needs_extra
async def test_related_on_an_unknown_paper_says_so(harness: Harness) -> None:
    h = harness
    await with_semantic(h)
    record = await h.fake.invoke("related", {"paper": "2401.99999"})
    reply = await h.fake.wait_for_original(record)
    assert "I don't know the paper **2401.99999** yet" in (reply.content or "")


@needs_extra
async def test_the_related_button_under_paper(harness: Harness) -> None:
    h = harness
    await with_semantic(h)
    reply = await h.fake.wait_for_original(await h.fake.invoke("paper", {"id": DDPM}))
    assert f"paper:related:{DDPM}" in component_ids(reply)
    click = await h.fake.click(reply, f"paper:related:{DDPM}")
    answer = await h.fake.wait_for_original(click)
    answered_in_time(click, CALLBACK_DEFERRED)
    assert answer.ephemeral
    assert answer.embeds[0]["title"] == "Related to: Denoising Diffusion Probabilistic Models"
    assert "Latent Diffusion" in answer.embeds[0]["description"].split("\n**2.**")[0]


# -- a semantic feed, end to end -------------------------------------------------------------------

ABOUT = "gas giants orbiting near their suns"
HOT_JUPITERS = "astro-ph/0601001"


@needs_extra
@pytest.mark.parametrize("harness", backend_params(), indirect=True)
async def test_an_about_feed_receives_a_paper_that_shares_no_keyword_with_it(
    harness: Harness,
) -> None:
    """`/feed add` with about:"...", then a poll: the paper on hot Jupiters is posted, though
    none of the feed's words is in it; the other papers of the poll are not."""
    h = harness
    world = h.fake.world
    assert world is not None
    attach_semantic(h)
    done = await h.fake.invoke(
        "feed add", {"name": "planets", "query": f'about:"{ABOUT}"'}, member=world.mod
    )
    assert "will post to" in (await h.fake.wait_for_original(done)).content
    both = frozenset({"arxiv", "huggingface"})
    polled = [
        replace(p, published=NOW - timedelta(hours=3), sources=both, upvotes=5)
        for p in real_papers()
        if p.id in (HOT_JUPITERS, DDPM, LATENT_DIFFUSION, "1409.0473", "1202.4527")
    ]
    # No keyword in common: the same words as a plain query match none of these papers.
    from bot.query.compile import compile_query
    from bot.store.matcher import BatchMatcher

    with BatchMatcher(polled) as matcher:
        assert matcher.match(compile_query(" OR ".join(ABOUT.split()))) == ()

    await h.poll_and_deliver(polled)
    (posted,) = await h.fake.wait_for_messages(world.papers, 1, include_ephemeral=False)
    assert posted.embeds[0]["title"].startswith("Frequency of Hot Jupiters")
    # Embedded during the poll, before matching: every polled paper has its vector now.
    model = embedder().model_id
    assert await h.store.vectors.have(model, [p.id for p in polled]) == {p.id for p in polled}
    await h.bot.publisher.publish_due()
    assert len(h.fake.messages(world.papers, include_ephemeral=False)) == 1
