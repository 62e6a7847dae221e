"""Personal follows on Discord's side: the answers and the buttons every follows entry point shares.

`/follow`, the "Follow in my DMs" button under search results and `/paper`'s "Follow an author"
select all end in `follow_and_answer`; `/following`, its buttons and the "My follows" button
under each DM all show `following_body`. The buttons and the author select are `DynamicItem`s:
their custom ids carry what they act on, so they keep working after a restart and hold no
state; every action is done for the member who clicked, on that member's follows only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, cast

import discord

from bot.discord.errors import reply_privately
from bot.discord.limits import SEP, Json, fit_message, md, no_mentions, plain
from bot.discord.listings import search_results_embed
from bot.errors import PaperfeedError, QueryError, UserFacingError
from bot.models import Follow, Paper
from bot.services.follows import FollowPreview, FollowService

log = logging.getLogger(__name__)

PER_PAGE = 4  # follows on one page of /following: 4 rows of buttons and one of page turns
AUTHORS_OFFERED = 5  # "Follow an author" offers the first authors of a paper
OPTION_MAX = 100  # a select option's label and value
COLOUR_FOLLOWS = 0x5865F2
AUTHOR_SELECT_ID = "paper:follow-author"


class HasServices(Protocol):
    """The running bot as a component callback sees it (`interaction.client`)."""

    @property
    def services(self) -> Any: ...


def follows_of(interaction: discord.Interaction) -> FollowService:
    """The follows service of the bot that received this interaction."""
    service: FollowService = cast(HasServices, interaction.client).services.follows
    return service


# ---- what the member reads ----------------------------------------------------------------------


def _mode_of(follow: Follow) -> str:
    return str(getattr(follow.mode, "value", follow.mode))


def schedule_text(follow: Follow) -> str:
    """How a follow delivers, in a few words."""
    if _mode_of(follow) == "instant":
        return "instant (new matches gathered for a few minutes, then one DM)"
    return f"daily at {follow.time} UTC"


def notice_text(notice: str | None) -> str | None:
    """A pending "DMs closed" notice (the service's words say how to open DMs), marked."""
    if not notice:
        return None
    return f"⚠️ {plain(notice, 600)}"


def _with_notice(body: Json, notice: str | None) -> Json:
    text = notice_text(notice)
    if text:
        body["content"] = "\n\n".join(p for p in (text, body.get("content")) if p)
    return body


def preview_body(
    preview: FollowPreview, *, instant_window: str = "5 minutes", notice: str | None = None
) -> Json:
    """The answer to a new follow: its name, last week's matches (the best 3), the first DM."""
    follow = preview.follow
    shown = plain(follow.query.replace("`", "'"), 200)
    if _mode_of(follow) == "instant":
        when = (
            f"I'll DM you new matches as they come, gathered for {instant_window} so a busy "
            "announcement is one message."
        )
    else:
        stamp = int(preview.first_dm_at.timestamp())
        when = (
            f"Your first DM comes <t:{stamp}:f> (<t:{stamp}:R>), then every day at "
            f"{follow.time} UTC, when something new matches."
        )
    if follow.min_upvotes:
        when += f" Only papers with at least {follow.min_upvotes} upvotes."
    week = preview.week_count
    embed = search_results_embed(
        list(preview.best), query=follow.query, page=1, pages=1, total=len(preview.best)
    )
    embed["title"] = md(f"Following in your DMs: {follow.name}", 256)
    embed["color"] = COLOUR_FOLLOWS
    if preview.best:
        embed["footer"] = {
            "text": f"Best {len(preview.best)} of {week:,} match"
            f"{'es' if week != 1 else ''} in the last 7 days"
        }
    else:
        embed["description"] = "Nothing matched in the last 7 days; new papers will."
        embed.pop("footer", None)
    content = (
        f"Following `{shown}` as **{plain(follow.name, 64)}**: {week:,} paper"
        f"{'s' if week != 1 else ''} matched in the last 7 days. {when}\n"
        "See and manage your follows with `/following`; `/unfollow` stops one."
    )
    body: Json = {"content": content, "embeds": [embed], "allowed_mentions": no_mentions()}
    return fit_message(_with_notice(body, notice))


def _follow_line(follow: Follow) -> str:
    query = plain(follow.query.replace("`", "'"), 150)
    parts = [f"`{query}`", schedule_text(follow)]
    if follow.min_upvotes:
        parts.append(f"≥ {follow.min_upvotes} upvotes")
    state = "⏸️ paused" + (f" ({plain(follow.pause_reason, 80)})" if follow.pause_reason else "")
    head = f"**{plain(follow.name, 64)}**" + (f" · {state}" if follow.paused else "")
    return f"{head}\n{SEP.join(parts)}"


def page_count(follows: Sequence[Follow]) -> int:
    return max(1, math.ceil(len(follows) / PER_PAGE))


def following_body(follows: Sequence[Follow], page: int = 0, notice: str | None = None) -> Json:
    """The member's follows, one page, with what each follows and how it delivers (pure)."""
    page = min(max(page, 0), page_count(follows) - 1)
    shown = follows[page * PER_PAGE : (page + 1) * PER_PAGE]
    if not follows:
        description = (
            "You follow nothing yet. `/follow` a query (or an author from `/paper`) and I'll DM "
            "you the matching papers."
        )
    else:
        description = "\n\n".join(_follow_line(f) for f in shown)
    embed: Json = {
        "title": "Your follows",
        "description": description,
        "color": COLOUR_FOLLOWS,
    }
    if follows:
        embed["footer"] = {
            "text": f"{len(follows)} follow{'s' if len(follows) != 1 else ''}"
            f"{SEP}page {page + 1} of {page_count(follows)}{SEP}only you can see this"
        }
    body: Json = {"embeds": [embed], "allowed_mentions": no_mentions()}
    return fit_message(_with_notice(body, notice))


def following_view(follows: Sequence[Follow], page: int = 0) -> discord.ui.View:
    """Pause/resume and remove buttons for each follow of the page, and page turns."""
    view = discord.ui.View(timeout=None)
    page = min(max(page, 0), page_count(follows) - 1)
    for row, follow in enumerate(follows[page * PER_PAGE : (page + 1) * PER_PAGE]):
        action = "resume" if follow.paused else "pause"
        view.add_item(FollowAction(action, follow.name, row=row))
        view.add_item(FollowAction("remove", follow.name, row=row))
    if page_count(follows) > 1:
        view.add_item(FollowPage(page - 1, "◀ Previous", disabled=page == 0))
        view.add_item(FollowPage(page + 1, "Next ▶", disabled=page >= page_count(follows) - 1))
    return view


def embeds_of(body: Json) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in body.get("embeds") or ()]


async def answer(
    interaction: discord.Interaction, body: Json, view: discord.ui.View | None = None
) -> None:
    """Answer privately with a built body, as the response or in place of a deferral."""
    kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=body.get("content"), embeds=embeds_of(body), **kwargs
        )
    else:
        await interaction.response.send_message(
            body.get("content"), embeds=embeds_of(body), ephemeral=True, **kwargs
        )
    settle(view)


def settle(view: discord.ui.View | None) -> None:
    """Stop discord.py's timer on a sent view of dynamic items only: they answer by custom id,
    for as long as the message lasts, so the view itself has nothing left to wait for."""
    if view is not None and all(isinstance(i, discord.ui.DynamicItem) for i in view.children):
        view.stop()


async def follow_and_answer(
    interaction: discord.Interaction,
    query: str,
    *,
    mode: str = "daily",
    time: str | None = None,
    min_upvotes: int = 0,
) -> None:
    """Make a follow for the member and answer privately; a bad query gets /search's reason."""
    service = follows_of(interaction)
    user_id = interaction.user.id
    notice = await service.take_notice(user_id)
    try:
        preview = await service.follow(
            user_id, query, mode=mode, time=time, min_upvotes=min_upvotes
        )
    except QueryError as exc:
        raise UserFacingError(
            "\n\n".join(p for p in (notice_text(notice), f"That query can't be used: {exc}") if p)
        ) from None
    except PaperfeedError as exc:
        raise UserFacingError(
            "\n\n".join(p for p in (notice_text(notice), str(exc)) if p)
        ) from None
    log.info("user %s follows %s (%s)", user_id, preview.follow.name, _mode_of(preview.follow))
    minutes = service.settings.instant_window.total_seconds() / 60
    window = f"{minutes:g} minute{'s' if minutes != 1 else ''}"
    await answer(interaction, preview_body(preview, instant_window=window, notice=notice))


async def show_following(
    interaction: discord.Interaction, *, page: int = 0, edit: bool = False
) -> None:
    """The member's follows with their buttons: a new private answer, or this message updated."""
    service = follows_of(interaction)
    user_id = interaction.user.id
    notice = await service.take_notice(user_id)
    follows = await service.following(user_id)
    body = following_body(follows, page, notice)
    view = following_view(follows, page)
    if edit and not interaction.response.is_done():
        await interaction.response.edit_message(
            content=body.get("content"), embeds=embeds_of(body), view=view
        )
        settle(view)
        return
    await answer(interaction, body, view)


async def _guarded(interaction: discord.Interaction, what: str, action: Any) -> None:
    """Run a component's action; expected refusals are answered, the rest logged."""
    try:
        await action
    except PaperfeedError as exc:
        await reply_privately(interaction, str(exc))
    except Exception:
        log.exception("%s failed for user %s", what, interaction.user.id)
        await reply_privately(
            interaction, "Something went wrong on my side; it has been logged. Please try again."
        )


# ---- components that outlive the bot: custom ids carry what they act on ------------------------


class FollowAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"follows:(?P<action>pause|resume|remove):(?P<name>.+)",
):
    """Pause, resume or remove one of the clicker's follows, then show the list again."""

    LABELS: ClassVar[dict[str, str]] = {"pause": "Pause", "resume": "Resume", "remove": "Remove"}
    STYLES: ClassVar[dict[str, discord.ButtonStyle]] = {
        "pause": discord.ButtonStyle.secondary,
        "resume": discord.ButtonStyle.success,
        "remove": discord.ButtonStyle.danger,
    }

    def __init__(self, action: str, name: str, *, row: int | None = None) -> None:
        label = plain(f"{self.LABELS[action]} {name}", 80)
        super().__init__(
            discord.ui.Button(
                label=label,
                style=self.STYLES[action],
                custom_id=f"follows:{action}:{name}"[:OPTION_MAX],
                row=row,
            )
        )
        self.action = action
        self.name = name

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> FollowAction:
        return cls(match["action"], match["name"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _guarded(interaction, f"follows:{self.action}", self._act(interaction))

    async def _act(self, interaction: discord.Interaction) -> None:
        service = follows_of(interaction)
        user_id = interaction.user.id
        if self.action == "remove":
            if not await service.unfollow(user_id, self.name):
                raise UserFacingError(f"You no longer follow **{plain(self.name, 64)}**.")
        else:
            await service.set_paused(user_id, self.name, self.action == "pause")
        await show_following(interaction, edit=True)


class FollowPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"follows:page:(?P<page>\d{1,3})"
):
    """Turn a page of /following."""

    def __init__(self, page: int, label: str = "Page", *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"follows:page:{max(page, 0)}",
                disabled=disabled,
                row=4,
            )
        )
        self.page = max(page, 0)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> FollowPage:
        return cls(int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _guarded(
            interaction, "follows:page", show_following(interaction, page=self.page, edit=True)
        )


class MyFollowsButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"follows:dm:(?P<nonce>[\w-]{1,25})"
):
    """The button under each DM (see `bot.discord.direct`): the member's follows, privately."""

    def __init__(self, nonce: str) -> None:
        super().__init__(discord.ui.Button(label="My follows", custom_id=f"follows:dm:{nonce}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> MyFollowsButton:
        return cls(match["nonce"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _guarded(interaction, "follows:dm", show_following(interaction))


def author_options(paper: Paper) -> list[discord.SelectOption]:
    """The paper's first authors as select options; names that can't be a query are left out."""
    options: list[discord.SelectOption] = []
    seen: set[str] = set()
    for author in paper.authors:
        name = " ".join(author.replace('"', " ").split())
        if not name or len(name) > OPTION_MAX - 10 or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        options.append(discord.SelectOption(label=plain(name, OPTION_MAX) or name, value=name))
        if len(options) >= AUTHORS_OFFERED:
            break
    return options


class FollowAuthor(discord.ui.DynamicItem[discord.ui.Select[Any]], template=AUTHOR_SELECT_ID):
    """`/paper`'s "Follow an author": an author:"Name" follow in the member's DMs."""

    def __init__(self, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=AUTHOR_SELECT_ID,
                placeholder="Follow an author in my DMs…",
                options=options or [discord.SelectOption(label="-", value="-")],
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> FollowAuthor:
        return cls(list(item.options) if isinstance(item, discord.ui.Select) else None)

    async def callback(self, interaction: discord.Interaction) -> None:
        values = self.item.values
        if not values:
            return
        query = f'author:"{values[0]}"'
        await _guarded(interaction, "paper:follow-author", follow_and_answer(interaction, query))


def author_view(paper: Paper) -> discord.ui.View | None:
    """The "Follow an author" select for a paper, when it has authors."""
    options = author_options(paper)
    if not options:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(FollowAuthor(options))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    FollowAction,
    FollowPage,
    MyFollowsButton,
    FollowAuthor,
)
