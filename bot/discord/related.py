"""Related papers in Discord (semantic extra): `/related`'s answer and `/paper`'s Related button.

The button's custom id carries the paper id, so it keeps working after a restart; it is only
shown when the extra is installed, and `/related` without it answers with the install line.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

import discord

from bot.discord.errors import reply_privately
from bot.discord.following import author_view
from bot.discord.limits import no_mentions
from bot.discord.listings import related_embed
from bot.errors import PaperfeedError, QueryError, UserFacingError
from bot.models import Paper
from bot.semantic.availability import INSTALL_HINT

log = logging.getLogger(__name__)

RELATED_SHOWN = 10
RELATED_ID = r"paper:related:(?P<id>[A-Za-z0-9./-]{1,40})"


class _HasServices(Protocol):
    @property
    def services(self) -> Any: ...


async def related_body(services: Any, paper: Paper, limit: int = RELATED_SHOWN) -> dict[str, Any]:
    """The message listing a paper's related papers; UserFacingError without the extra."""
    semantic = services.semantic
    if semantic is None:
        raise UserFacingError(INSTALL_HINT)
    try:
        similar = await semantic.related(paper.id, limit)
    except QueryError as exc:
        raise UserFacingError(str(exc)) from None
    embed = related_embed(paper, [(s.paper, s.similarity) for s in similar])
    return {"embeds": [embed], "allowed_mentions": no_mentions()}


class RelatedButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=RELATED_ID):
    """Under `/paper`: the most similar papers, privately, to whoever clicks."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Related",
                style=discord.ButtonStyle.secondary,
                custom_id=f"paper:related:{paper_id}",
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> RelatedButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            services = cast(_HasServices, interaction.client).services
            paper = await services.store.papers.get(self.paper_id)
            if paper is None:
                raise UserFacingError("That paper is no longer in the library.")
            await interaction.response.defer(ephemeral=True, thinking=True)
            body = await related_body(services, paper)
            await interaction.followup.send(
                embeds=[discord.Embed.from_dict(e) for e in body["embeds"]],
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except PaperfeedError as exc:
            await reply_privately(interaction, str(exc))
        except Exception:
            log.exception("related papers failed for user %s", interaction.user.id)
            await reply_privately(
                interaction,
                "Something went wrong on my side; it has been logged. Please try again.",
            )


def paper_view(paper: Paper, *, related: bool) -> discord.ui.View | None:
    """`/paper`'s components: "Follow an author", and "Related" when the extra is installed."""
    view = author_view(paper)
    if related and len(paper.id) <= 40:
        view = view or discord.ui.View(timeout=None)
        view.add_item(RelatedButton(paper.id))
    return view
