"""`paperfeed follows ...`: members' personal follows for the operator: list them, remove them.

Members see only their own follows in Discord; the operator of the bot sees and removes any
member's here (e.g. when a member asks by other means to be forgotten).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from bot.app import follow_settings, open_command_store
from bot.cli.common import emit, iso
from bot.cli.feeds import snowflake
from bot.cli.semantic import semantic_of
from bot.clock import utcnow
from bot.config import Config
from bot.errors import PaperfeedError
from bot.models import Follow
from bot.services.follows import FollowService
from bot.services.health import follow_counts


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("follows", help="list or remove members' personal follows (sent by DM)")
    fsub = p.add_subparsers(dest="follows_command", metavar="ACTION", required=True)

    q = fsub.add_parser("list", help="every member's follows, with their state")
    q.add_argument("--user", type=snowflake, metavar="ID", help="only this member's follows")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_list)

    q = fsub.add_parser("remove", help="remove one follow of a member, or everything about them")
    q.add_argument("--user", type=snowflake, metavar="ID", required=True, help="the member's id")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", help="the follow's name (see `follows list`)")
    which.add_argument(
        "--all",
        action="store_true",
        help="forget the member: every follow, pending DMs and notices (as /unfollow all)",
    )
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_remove)


def follow_document(follow: Follow) -> dict[str, Any]:
    """A follow as `follows list --json` prints it; Discord ids are strings, as Discord sends them."""
    return {
        "id": follow.id,
        "user_id": str(follow.user_id),
        "name": follow.name,
        "query": follow.query,
        "mode": follow.mode,
        "time": follow.time,
        "min_upvotes": follow.min_upvotes,
        "paused": follow.paused,
        "pause_reason": follow.pause_reason,
        "created_at": iso(follow.created_at),
    }


async def cmd_list(args: argparse.Namespace, config: Config) -> int:
    async with open_command_store(config) as store:
        follows = await store.follows.list(user_id=args.user)
        counts = await follow_counts(store, utcnow() - timedelta(hours=24))
    if args.json:
        emit(
            {
                "follows": [follow_document(f) for f in follows],
                "members": counts.members,
                "dms_sent_24h": counts.dms_sent,
                "dms_refused": counts.dms_refused,
                "waiting": counts.waiting,
            }
        )
        return 0
    if not follows:
        print("no personal follows" + (f" for member {args.user}" if args.user else ""))
        return 0
    for follow in follows:
        state = f"paused: {follow.pause_reason or 'no reason given'}" if follow.paused else "active"
        when = f"daily at {follow.time} UTC" if follow.mode == "daily" else "instant"
        upvotes = f", {follow.min_upvotes}+ upvotes" if follow.min_upvotes else ""
        print(f'member {follow.user_id}: "{follow.name}", {when}{upvotes}, {state}')
        print(f"    query: {follow.query}")
    print(
        f"{counts.follows} follow(s) by {counts.members} member(s); "
        f"{counts.dms_sent} DM(s) in the last 24 h, {counts.dms_refused} refused"
    )
    return 0


async def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    async with open_command_store(config) as store:
        # like: / about: follows decide, as in the bot, which of the removed one's papers stay.
        semantic = semantic_of(store, config)
        follows = FollowService(store, utcnow, follow_settings(config.follows), semantic)
        if args.all:
            removed = await follows.forget(args.user)
        else:
            if not await follows.unfollow(args.user, args.name):
                raise PaperfeedError(
                    f'member {args.user} has no follow named "{args.name}" '
                    f"(see `paperfeed follows list --user {args.user}`)"
                )
            removed = 1
    if args.json:
        emit({"user_id": str(args.user), "removed": removed, "forgotten": bool(args.all)})
    elif args.all:
        print(f"forgot member {args.user}: {removed} follow(s) and every pending DM removed")
    else:
        print(f'removed "{args.name}" of member {args.user}')
    return 0
