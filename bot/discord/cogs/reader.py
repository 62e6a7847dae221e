"""`/search`, `/paper`, `/trending`, `/related`: reading the papers the bot knows, and asking upstream when it knows too little.

Every command answers within Discord's 3 seconds: local work is fast, and before a step that
asks Hugging Face or arXiv the interaction is deferred; a remote step that fails or takes
longer than `remote_timeout` still ends in an answer, from what the store has.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Services
from bot.config import parse_duration
from bot.discord.channels import checked_spec, create_feed, feed_target, require_manager
from bot.discord.context import BotContext
from bot.discord.embeds import COLOUR_HUGGINGFACE, credited_source, paper_message
from bot.discord.errors import reply_privately
from bot.discord.following import follow_and_answer, settle
from bot.discord.limits import Json, fit_message, md, no_mentions, plain
from bot.discord.listings import search_results_embed
from bot.discord.related import RelatedButton, paper_view, related_body
from bot.discord.views import EXPIRED, SEARCH_IDS, SearchView, embeds_of
from bot.errors import PaperIdError, QueryError, UserFacingError
from bot.models import FeedSpec, Paper, SearchPage, parse_paper_id
from bot.query.compile import CompiledQuery, compile_query
from bot.services.library import Library

log = logging.getLogger(__name__)

PER_PAGE = 5  # results on one page of /search
FEW_RESULTS = 3  # fewer local results than this: also ask Hugging Face's search
HF_SEARCH_LIMIT = 10
REMOTE_TIMEOUT = 10.0  # seconds one upstream call may take before we answer without it
VIEW_TIMEOUT = 300.0  # seconds the search buttons keep working
TRENDING_SHOWN = 10
TRENDING_POOL = 1000  # upvoted papers of the period a query filters
TRENDING_WINDOWS = {
    "today": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
TRENDING_LABELS = {"today": "last 24 hours", "week": "last 7 days", "month": "last 30 days"}
REFRESH_EVERY = timedelta(minutes=30)  # a period is fetched from Hugging Face at most this often
COOLDOWN = (5, 30.0)  # uses per user, per seconds, of each reader command
FEED_NAME_MAX = 64
SUGGESTION_MAX = 100  # autocomplete values longer than this would be cut, so they are not kept

Period = Literal["today", "week", "month"]


@dataclass(frozen=True, slots=True)
class _Remembered:
    query: str
    user_id: int
    shared: bool  # searched publicly, so anyone in the guild may see it suggested


class RecentQueries:
    """Each guild's last queries, in memory, for autocomplete; private ones only to their author."""

    def __init__(self, per_guild: int = 25, guilds: int = 1000) -> None:
        self._per_guild = per_guild
        self._guilds = guilds
        self._by_guild: OrderedDict[int, deque[_Remembered]] = OrderedDict()

    def remember(self, guild_id: int | None, user_id: int, query: str, *, shared: bool) -> None:
        text = " ".join(query.split())
        if not text or len(text) > SUGGESTION_MAX:
            return
        key = guild_id or 0
        entries = self._by_guild.pop(key, None) or deque(maxlen=self._per_guild)
        folded = text.casefold()
        kept = [e for e in entries if not (e.query.casefold() == folded and e.user_id == user_id)]
        entries = deque(kept, maxlen=self._per_guild)
        entries.appendleft(_Remembered(text, user_id, shared and guild_id is not None))
        self._by_guild[key] = entries
        while len(self._by_guild) > self._guilds:
            self._by_guild.popitem(last=False)

    def suggest(
        self, guild_id: int | None, user_id: int, current: str, limit: int = 25
    ) -> list[str]:
        """Recent queries containing what was typed, newest first, at most `limit`."""
        needle = " ".join(current.split()).casefold()
        seen: set[str] = set()
        out: list[str] = []
        for entry in self._by_guild.get(guild_id or 0, ()):
            folded = entry.query.casefold()
            if folded in seen or needle not in folded:
                continue
            if entry.shared or entry.user_id == user_id:
                seen.add(folded)
                out.append(entry.query)
                if len(out) >= limit:
                    break
        return out


def compile_or_explain(query: str) -> CompiledQuery:
    """The compiled query, or the parser's one-line reason as the answer."""
    try:
        return compile_query(query)
    except QueryError as exc:
        raise UserFacingError(f"That query can't be used: {exc}") from None


def since_time(text: str | None, now: datetime) -> datetime | None:
    """The start of a `since` window like "7d"; None for no window."""
    if text is None or not text.strip():
        return None
    try:
        return now - parse_duration(text.strip())
    except ValueError:
        raise UserFacingError(
            f'`since` must be a duration like "7d", "12h" or "30m", not "{plain(text, 20)}".'
        ) from None
    except OverflowError:
        return None  # further back than dates go: no window at all


def remote_words(query: str, compiled: CompiledQuery) -> str:
    """What to send to Hugging Face's plain-text search: the words the query looks for."""
    return " ".join(compiled.highlight_terms()) or query


def feed_name_for(query: str, taken: Iterable[str]) -> str:
    """A feed name from a query's words (`"vision language" -survey` → vision-language-survey), unique here."""
    words = re.findall(r"[^\W_]+", query.casefold())
    base = "-".join(words)[: FEED_NAME_MAX - 4].strip("-") or "search"
    used = {t.casefold() for t in taken}
    name, n = base, 1
    while name.casefold() in used:
        n += 1
        name = f"{base}-{n}"
    return name


def trending_body(
    papers: Sequence[Paper],
    *,
    period: Period,
    query: str | None,
    matched: int,
    note: str | None = None,
) -> Json:
    """The `/trending` message: one embed of the most upvoted papers, within Discord's limits (pure)."""
    label = TRENDING_LABELS[period]
    embed = search_results_embed(papers, query=query or "", page=1, pages=1, total=len(papers))
    title = f"Trending on Hugging Face · {label}"
    if query:
        title += f" · {md(query, 120)}"
    embed["title"] = title
    embed["color"] = COLOUR_HUGGINGFACE
    if papers:
        embed["footer"] = {"text": f"Top {len(papers)} of {matched:,} by Hugging Face upvotes"}
    else:
        embed["description"] = (
            f"No Hugging Face paper{' matches this query' if query else ' has been seen'} "
            f"in the {label} yet."
        )
        embed.pop("footer", None)
    body: Json = {"embeds": [embed], "allowed_mentions": no_mentions()}
    if note:
        body["content"] = note
    return fit_message(body)


async def send_body(
    interaction: discord.Interaction,
    body: Json,
    *,
    ephemeral: bool,
    view: discord.ui.View | None = None,
) -> None:
    """Answer with a built body: the response if none was sent yet, else the deferred original."""
    content = body.get("content")
    embeds = embeds_of(body)
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=content, embeds=embeds, allowed_mentions=discord.AllowedMentions.none(),
            **extra,
        )  # fmt: skip
    else:
        await interaction.response.send_message(
            content,
            embeds=embeds,
            ephemeral=ephemeral,
            allowed_mentions=discord.AllowedMentions.none(),
            **extra,
        )
    settle(view)


async def send_text(interaction: discord.Interaction, text: str, *, ephemeral: bool) -> None:
    """A short answer, as the response or in place of the deferred 'thinking…'."""
    if interaction.response.is_done():
        await interaction.edit_original_response(content=text)
    else:
        await interaction.response.send_message(text, ephemeral=ephemeral)


class ReaderCog(commands.Cog):
    """Reading papers: search, one paper, trending."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        self.recent = RecentQueries()
        self.remote_timeout = REMOTE_TIMEOUT
        self.view_timeout = VIEW_TIMEOUT
        self._refreshed: dict[str, datetime] = {}
        self._views: weakref.WeakSet[SearchView] = weakref.WeakSet()

    async def cog_load(self) -> None:
        """The Related button under /paper answers whichever message it is on."""
        self.bot.add_dynamic_items(RelatedButton)

    async def cog_unload(self) -> None:
        """The bot is closing: stop the search views, so their timers end with it."""
        for view in list(self._views):
            view.stop()

    @property
    def services(self) -> Services:
        return self.bot.services

    @property
    def library(self) -> Library:
        return self.bot.services.library

    # -- shared steps ---------------------------------------------------------------------------

    # -- /search --------------------------------------------------------------------------------

    async def query_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete: recent queries of this server that contain what was typed (≤ 25, no I/O)."""
        found = self.recent.suggest(interaction.guild_id, interaction.user.id, current)
        return [app_commands.Choice(name=q, value=q) for q in found[:25]]

    @app_commands.command(name="search")
    @app_commands.describe(
        query='What to look for, e.g. "vision language" -survey or author:"Ada Lovelace"',
        since="Only papers from this recent period, e.g. 7d, 12h or 30m",
        sort="Best match first (default), newest first, or most upvoted first",
        public="Show the results to everyone in the channel (default: only you)",
    )
    @app_commands.autocomplete(query=query_choices)
    @app_commands.checks.cooldown(*COOLDOWN)
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 300],
        since: app_commands.Range[str, 1, 16] | None = None,
        sort: Literal["relevance", "recent", "upvotes"] = "relevance",
        public: bool = False,
    ) -> None:
        """Search the papers the bot knows with the query language; asks Hugging Face if few match"""
        compiled = compile_or_explain(query)
        after = since_time(since, self.bot.clock())
        self.recent.remember(interaction.guild_id, interaction.user.id, query, shared=public)
        first = await self.library.search(compiled, per_page=PER_PAGE, since=after, sort=sort)
        from_hf: frozenset[str] = frozenset()
        note: str | None = None
        if first.total < FEW_RESULTS and self.library.upstream is not None:
            await interaction.response.defer(ephemeral=not public, thinking=True)
            found, note = await self._ask_huggingface(remote_words(query, compiled))
            if found:
                local = {h.paper.id for h in first.hits}
                from_hf = frozenset(p.id for p in found) - local
                first = await self.library.search(
                    compiled, per_page=PER_PAGE, since=after, sort=sort
                )

        async def fetch(page: int) -> SearchPage:
            return await self.library.search(
                compiled, page=page, per_page=PER_PAGE, since=after, sort=sort
            )

        view = SearchView(
            owner_id=interaction.user.id,
            query=query,
            first=first,
            per_page=PER_PAGE,
            fetch=fetch,
            open_paper=self.open_paper,
            follow=(lambda i: self.follow(i, query))
            if self._offers_feed(interaction, public)
            else None,
            follow_dm=lambda i: follow_and_answer(i, query),
            from_hf=from_hf,
            note=note,
            timeout=self.view_timeout,
        )
        self._views.add(view)
        body = view.body()
        embeds = embeds_of(body)
        none = discord.AllowedMentions.none()
        if interaction.response.is_done():
            message = await interaction.edit_original_response(
                content=body.get("content"), embeds=embeds, view=view, allowed_mentions=none
            )
            view.message_id = message.id
        else:
            sent = await interaction.response.send_message(
                body.get("content"), embeds=embeds, view=view, ephemeral=not public,
                allowed_mentions=none,
            )  # fmt: skip
            view.message_id = sent.message_id
        view.origin = interaction

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A click on search results no live view owns (expired, or from before a restart) is answered too."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = interaction.data.get("custom_id") if interaction.data else None
        if custom_id not in SEARCH_IDS:
            return
        message_id = interaction.message.id if interaction.message else None
        if any(v.message_id == message_id and not v.is_finished() for v in self._views):
            return
        await reply_privately(interaction, EXPIRED)

    async def _ask_huggingface(self, words: str) -> tuple[list[Paper], str | None]:
        """Hugging Face's search for these words, stored; a failure becomes a note, not an error."""
        asked = await self.library.search_upstream(words, HF_SEARCH_LIMIT, self.remote_timeout)
        notes = {
            "timeout": "Hugging Face's search did not answer in time: these are local results only.",
            "error": "Hugging Face's search is not answering right now: these are local results only.",
        }
        return asked.papers, notes.get(asked.failure or "")

    @staticmethod
    def _offers_feed(interaction: discord.Interaction, public: bool) -> bool:
        """ "Feed for this channel" is for managers: shown in a server to a searcher who has Manage
        Channels, or on a public search (whoever clicks is checked, as `/feed add` checks)."""
        if interaction.guild_id is None:
            return False
        return public or interaction.permissions.manage_channels

    async def open_paper(self, interaction: discord.Interaction, paper_id: str) -> None:
        """The select menu: one paper in full, privately, to whoever picked it."""
        paper = await self.library.get(paper_id)
        if paper is None:
            raise UserFacingError("That paper is no longer in the library.")
        body = paper_message(paper, source=credited_source(paper))
        await send_body(interaction, body, ephemeral=True, view=self._paper_view(paper))

    async def follow(self, interaction: discord.Interaction, query: str) -> None:
        """The follow button: a feed of this query in this channel, made as /feed add makes one."""
        guild_id = require_manager(interaction)
        target = feed_target(interaction, None)
        feeds = await self.services.feeds.list(guild_id=guild_id)
        for feed in feeds:
            if feed.channel_id == target.id and feed.spec.query == query:
                raise UserFacingError(
                    f"{target.mention} already follows this search: feed **{plain(feed.name, 64)}**."
                )
        taken = [f.name for f in feeds]
        spec = checked_spec(
            FeedSpec(name=feed_name_for(query, taken), channel_id=target.id, query=query)
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        feed, queued = await create_feed(self.services.feeds, spec, guild_id)
        log.info("feed %d (%s) created from a search by user %s", feed.id, feed.name,
                 interaction.user.id)  # fmt: skip
        shown = plain(query.replace("`", "'"), 200)
        await interaction.followup.send(
            f"Following `{shown}` in {target.mention} as feed **{plain(feed.name, 64)}**: "
            f"new matching papers will be posted there ({queued} recent one(s) now). "
            "Manage it with `/feed pause`, `/feed resume` or `/feed remove`.",
            ephemeral=True,
        )

    # -- /paper ---------------------------------------------------------------------------------

    @app_commands.command(name="paper")
    @app_commands.rename(paper_id="id")
    @app_commands.describe(
        paper_id="An arXiv id or link, e.g. 2401.01234, arXiv:2401.01234v2 or a Hugging Face URL",
        public="Show the paper to everyone in the channel (default: only you)",
    )
    @app_commands.checks.cooldown(*COOLDOWN)
    async def paper(
        self,
        interaction: discord.Interaction,
        paper_id: app_commands.Range[str, 1, 300],
        public: bool = False,
    ) -> None:
        """Show one paper in full, by arXiv id or by arXiv or Hugging Face link"""
        try:
            ref = parse_paper_id(paper_id)
        except PaperIdError as exc:
            raise UserFacingError(f"That is {exc}.") from None
        paper = await self.library.get(ref.id)
        if paper is None:
            paper = await self._look_up(interaction, ref.id, public=public)
            if paper is None:
                return
        await send_body(
            interaction,
            paper_message(paper, source=credited_source(paper)),
            ephemeral=not public,
            view=self._paper_view(paper),
        )

    def _paper_view(self, paper: Paper) -> discord.ui.View | None:
        return paper_view(paper, related=self.services.semantic is not None)

    # -- /related -------------------------------------------------------------------------------

    @app_commands.command(name="related")
    @app_commands.describe(
        paper="An arXiv id or link of a paper the bot knows, e.g. 2401.01234",
        public="Show the list to everyone in the channel (default: only you)",
    )
    @app_commands.checks.cooldown(*COOLDOWN)
    async def related(
        self,
        interaction: discord.Interaction,
        paper: app_commands.Range[str, 1, 300],
        public: bool = False,
    ) -> None:
        """The papers closest in meaning to one paper (needs the semantic extra)"""
        try:
            ref = parse_paper_id(paper)
        except PaperIdError as exc:
            raise UserFacingError(f"That is {exc}.") from None
        found = await self.library.get(ref.id)
        if found is None:
            raise UserFacingError(
                f"I don't know the paper **{ref.id}** yet: show it with `/paper` first."
            )
        if self.services.semantic is not None:
            await interaction.response.defer(ephemeral=not public, thinking=True)
        body = await related_body(self.services, found)
        await send_body(interaction, body, ephemeral=not public)

    async def _look_up(
        self, interaction: discord.Interaction, paper_id: str, *, public: bool
    ) -> Paper | None:
        """Ask Hugging Face, then arXiv, for a paper the store lacks; answer for it if none has it."""
        library = self.library
        if not library.lookups:
            raise UserFacingError(
                f"I don't know the paper **{paper_id}**, and no source is enabled to look it up."
            )
        await interaction.response.defer(ephemeral=not public, thinking=True)
        found = await library.look_up(paper_id, self.remote_timeout)
        if found.paper is not None:
            return found.paper
        problems = found.problems
        asked = " or ".join(found.asked)
        if problems:
            text = (
                f"I couldn't find **{paper_id}**: {'; '.join(problems)}. "
                "Please try again in a few minutes."
            )
        else:
            text = f"There is no paper **{paper_id}** on {asked}: check the id."
        await send_text(interaction, text, ephemeral=not public)
        return None

    # -- /trending ------------------------------------------------------------------------------

    @app_commands.command(name="trending")
    @app_commands.describe(
        period="How far back to look (default: the last 7 days)",
        query="Only papers matching this query, e.g. cat:cs.CL reasoning",
        public="Show the list to everyone in the channel (default: only you)",
    )
    @app_commands.checks.cooldown(*COOLDOWN)
    async def trending(
        self,
        interaction: discord.Interaction,
        period: Period = "week",
        query: app_commands.Range[str, 1, 300] | None = None,
        public: bool = False,
    ) -> None:
        """The most upvoted Hugging Face papers of the day, week or month"""
        compiled = compile_or_explain(query) if query else None
        now = self.bot.clock()
        since = now - TRENDING_WINDOWS[period]
        note = None
        if self._due_refresh(period, now):
            await interaction.response.defer(ephemeral=not public, thinking=True)
            note = await self._refresh(period, now)
        candidates = await self.library.trending(since, compiled, pool=TRENDING_POOL)
        body = trending_body(
            candidates[:TRENDING_SHOWN],
            period=period,
            query=query,
            matched=len(candidates),
            note=note,
        )
        await send_body(interaction, body, ephemeral=not public)

    def _due_refresh(self, period: Period, now: datetime) -> bool:
        """Whether to fetch the period from Hugging Face first (at most every REFRESH_EVERY)."""
        if self.library.upstream is None:
            return False
        last = self._refreshed.get(period)
        return last is None or now - last >= REFRESH_EVERY

    async def _refresh(self, period: Period, now: datetime) -> str | None:
        """Fetch the period's daily papers into the store; say so when that failed."""
        if self.library.upstream is None:
            return None
        self._refreshed[period] = now
        asked = await self.library.refresh_period(period, now, self.remote_timeout)
        if asked.failure is None:
            return None
        self._refreshed.pop(period, None)
        if asked.failure == "timeout":
            return "Hugging Face did not answer in time: this is what the bot already knew."
        return "Hugging Face is not answering right now: this is what the bot already knew."
