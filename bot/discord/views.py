"""Interactive search results: pages only the searcher turns, a paper picker, and follow buttons.

The view holds no store or Discord logic of its own beyond its components: the cog hands it
callables that fetch a page, open a paper and create a feed, so each can be tested apart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import discord

from bot.discord.embeds import short_authors
from bot.discord.errors import reply_privately
from bot.discord.limits import SEP, Json, fit_message, no_mentions, plain
from bot.discord.listings import search_results_embed
from bot.errors import PaperfeedError
from bot.models import Paper, SearchHit, SearchPage

log = logging.getLogger(__name__)

PageFetcher = Callable[[int], Awaitable[SearchPage]]  # 0-based page number -> that page
PaperOpener = Callable[[discord.Interaction, str], Awaitable[None]]
Follower = Callable[[discord.Interaction], Awaitable[None]]

OPEN_ID = "search:open"
PREVIOUS_ID = "search:previous"
NEXT_ID = "search:next"
FOLLOW_ID = "search:follow"
FOLLOW_DM_ID = "search:follow-dm"
SEARCH_IDS = frozenset({OPEN_ID, PREVIOUS_ID, NEXT_ID, FOLLOW_ID, FOLLOW_DM_ID})
NOT_YOURS = "Only the person who searched can turn these pages; run `/search` for your own."
EXPIRED = "These search results have expired (or the bot restarted): run `/search` again."
FROM_HF_LABEL = "from Hugging Face"


def results_body(
    hits: Sequence[SearchHit],
    *,
    query: str,
    page: int,
    per_page: int,
    total: int,
    from_hf: Collection[str] = (),
    note: str | None = None,
    total_exact: bool = True,
) -> Json:
    """One page of results as a message body, with the Hugging Face finds named (pure)."""
    pages = max(1, math.ceil(total / per_page))
    embed = search_results_embed(
        hits,
        query=query,
        page=page + 1,
        pages=pages,
        total=total,
        per_page=per_page,
        total_exact=total_exact,
    )
    marked = [str(page * per_page + i + 1) for i, h in enumerate(hits) if h.paper.id in from_hf]
    if marked:
        which = "Result " if len(marked) == 1 else "Results "
        embed["fields"] = [
            {
                "name": "From Hugging Face",
                "value": f"{which}{', '.join(marked)}: found by Hugging Face's search and "
                "saved here, so they are in the local search from now on.",
            }
        ]
    body: Json = {"embeds": [embed], "allowed_mentions": no_mentions()}
    if note:
        body["content"] = note
    return fit_message(body)


def paper_option(number: int, paper: Paper, *, from_hf: bool) -> discord.SelectOption:
    """A select option for one paper: its title, and its authors and year underneath."""
    label = plain(f"{number}. {paper.title or paper.id}", 100) or paper.id
    details = [short_authors(paper.authors, shown=2, each=40)]
    if paper.published:
        details.append(str(paper.published.year))
    if from_hf:
        details.append(FROM_HF_LABEL)
    description = plain(SEP.join(d for d in details if d), 100) or None
    return discord.SelectOption(label=label, value=paper.id, description=description)


def embeds_of(body: Json) -> list[discord.Embed]:
    """discord.py embeds for the JSON embeds of a body built by `bot.discord.embeds` or `listings`."""
    return [discord.Embed.from_dict(e) for e in body.get("embeds") or ()]


class SearchView(discord.ui.View):
    """Paged results of one search; turning pages is for the searcher, opening and following for anyone."""

    def __init__(
        self,
        *,
        owner_id: int,
        query: str,
        first: SearchPage,
        per_page: int,
        fetch: PageFetcher,
        open_paper: PaperOpener,
        follow: Follower | None,
        follow_dm: Follower | None = None,
        from_hf: Collection[str] = (),
        note: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.query = query
        self.per_page = per_page
        self.page = 0
        self.total = first.total
        self.total_exact = first.total_exact  # False: more than `total` (a search with words)
        self.hits = first.hits
        self.from_hf = frozenset(from_hf)
        self.note = note
        self.origin: discord.Interaction | None = None  # its token edits the message on timeout
        self.message_id: int | None = None
        self._fetch = fetch
        self._open = open_paper
        self._follow = follow
        self._follow_dm = follow_dm
        self._layout()

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def body(self) -> Json:
        """The message for the page shown now."""
        return results_body(
            self.hits,
            query=self.query,
            page=self.page,
            per_page=self.per_page,
            total=self.total,
            from_hf=self.from_hf,
            note=self.note,
            total_exact=self.total_exact,
        )

    def _layout(self) -> None:
        """Rebuild the components for the page shown: picker, then page and follow buttons."""
        self.clear_items()
        if self.hits:
            start = self.page * self.per_page + 1
            options = [
                paper_option(start + i, h.paper, from_hf=h.paper.id in self.from_hf)
                for i, h in enumerate(self.hits[:25])
            ]
            self.add_item(PaperSelect(options))
        if self.pages > 1:
            self.add_item(PageButton(PREVIOUS_ID, "◀ Previous", -1, disabled=self.page == 0))
            self.add_item(PageButton(NEXT_ID, "Next ▶", +1, disabled=self.page >= self.pages - 1))
        if self._follow_dm is not None:
            self.add_item(FollowDmButton())
        if self._follow is not None:
            self.add_item(FollowButton())

    async def turn(self, interaction: discord.Interaction, step: int) -> None:
        """Show the previous or next page, for the searcher only."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        wanted = min(max(self.page + step, 0), self.pages - 1)
        page = await self._fetch(wanted)
        if not page.hits and wanted > 0:  # fewer results than when the search ran
            wanted = max(0, math.ceil(page.total / self.per_page) - 1)
            page = await self._fetch(wanted)
        self.page, self.total, self.hits = wanted, page.total, page.hits
        self.total_exact = page.total_exact
        self._layout()
        body = self.body()
        await interaction.response.edit_message(
            content=body.get("content"), embeds=embeds_of(body), view=self
        )

    async def open(self, interaction: discord.Interaction, paper_id: str) -> None:
        await self._open(interaction, paper_id)

    async def follow(self, interaction: discord.Interaction) -> None:
        if self._follow is not None:
            await self._follow(interaction)

    async def follow_dm(self, interaction: discord.Interaction) -> None:
        if self._follow_dm is not None:
            await self._follow_dm(interaction)

    async def on_timeout(self) -> None:
        """Grey the components out, so nobody presses a button that no longer answers."""
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(view=self)
        except discord.HTTPException as exc:
            log.info("could not disable the buttons of an old search: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        """Expected refusals are said privately; anything else is logged and apologised for."""
        if isinstance(error, PaperfeedError):
            await reply_privately(interaction, str(error))
            return
        log.error(
            "search component %s failed for user %s in guild %s",
            getattr(item, "custom_id", "?"), interaction.user.id, interaction.guild_id,
            exc_info=error,
        )  # fmt: skip
        await reply_privately(
            interaction, "Something went wrong on my side; it has been logged. Please try again."
        )


class PaperSelect(discord.ui.Select[SearchView]):
    """Pick one paper of the page to see it in full, privately."""

    def __init__(self, options: list[discord.SelectOption]) -> None:
        super().__init__(custom_id=OPEN_ID, placeholder="Open a paper in full…", options=options)

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is not None and self.values:
            await self.view.open(interaction, self.values[0])


class PageButton(discord.ui.Button[SearchView]):
    """Previous or next page."""

    def __init__(self, custom_id: str, label: str, step: int, *, disabled: bool) -> None:
        super().__init__(
            custom_id=custom_id,
            label=label,
            style=discord.ButtonStyle.secondary,
            disabled=disabled,
        )
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is not None:
            await self.view.turn(interaction, self.step)


class FollowDmButton(discord.ui.Button[SearchView]):
    """Make the search a personal follow of whoever clicks, delivered by DM."""

    def __init__(self) -> None:
        super().__init__(
            custom_id=FOLLOW_DM_ID, label="Follow in my DMs", style=discord.ButtonStyle.primary
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is not None:
            await self.view.follow_dm(interaction)


class FollowButton(discord.ui.Button[SearchView]):
    """Make the search a feed of the channel it was run in."""

    def __init__(self) -> None:
        super().__init__(
            custom_id=FOLLOW_ID, label="Feed for this channel", style=discord.ButtonStyle.secondary
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is not None:
            await self.view.follow(interaction)
