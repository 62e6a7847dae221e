"""Row ⇄ model conversion for follows and DM items, and SQL both backends spell alike."""

from __future__ import annotations

from typing import cast

from bot.models import DeliveryState, DmItem, Follow, FollowMode
from bot.store.common.codec import ReadTime, Row


def follow_from_values(row: Row, *, time: ReadTime) -> Follow:
    return Follow(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        name=str(row["name"]),
        query=str(row["query"]),
        mode=cast(FollowMode, str(row["mode"])),
        time=str(row["time"]),
        min_upvotes=int(row["min_upvotes"]),
        paused=bool(row["paused"]),
        pause_reason=row["pause_reason"],
        created_at=time(row["created_at"]),
    )


def dm_item_from_values(row: Row, *, time: ReadTime) -> DmItem:
    queued_at = time(row["queued_at"])
    assert queued_at is not None  # NOT NULL in the schema
    message_id = row["message_id"]
    follow_id = row["follow_id"]
    return DmItem(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        paper_id=str(row["paper_id"]),
        mode=cast(FollowMode, str(row["mode"])),
        state=DeliveryState(row["state"]),
        queued_at=queued_at,
        follow_id=int(follow_id) if follow_id is not None else None,
        relevance=int(row["relevance"]),
        nonce=row["nonce"],
        attempted_at=time(row["attempted_at"]),
        message_id=int(message_id) if message_id is not None else None,
        error=row["error"],
    )


def drop_plans(items: str) -> str:
    """The statement that drops the kept plans (dm_messages) of the messages the dm_queue items
    meeting `items` (a condition, in the backend's placeholders) were planned into."""
    return (
        "DELETE FROM dm_messages WHERE nonce IN "
        f"(SELECT nonce FROM dm_queue WHERE {items} AND nonce IS NOT NULL)"
    )
