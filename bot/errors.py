"""The project's exception tree.

Every error the program expects derives from :class:`PaperfeedError`, so the CLI and the
Discord error handler can turn it into one clear line instead of a traceback::

    PaperfeedError
    ├── ConfigError          bad configuration file or environment (exit 2)
    ├── QueryError           a search or feed query that cannot be understood (exit 2)
    ├── PaperIdError         a string that names no arXiv paper (exit 2)
    ├── UsageError           a command that cannot be carried out as asked (exit 2)
    ├── UserFacingError      a slash command refused (permission, channel kind): shown as it is
    │   └── FollowError          a personal follow that cannot be made or found
    ├── SemanticUnavailable  a semantic feature without the extra installed (exit 2)
    ├── StoreError           the database cannot be opened, migrated or written (exit 1)
    │   ├── DuplicateFeedName    a feed of that name already exists in the guild
    │   ├── IndexBusy            another process is rebuilding the search index
    │   └── SearchIndexBuilding  a word search while the index is built, with no full text kept
    ├── SourceError          an upstream (arXiv, Hugging Face) failed (exit 1)
    │   ├── SourceUnavailable    transient: timeouts, 429, 5xx (retried with backoff)
    │   └── SourceResponseError  the upstream answered something we cannot use
    └── DeliveryError        a post to Discord failed (see bot.services.publisher)
        ├── ChannelUnavailable   403 / 404 on the feed's channel: the feed pauses
        ├── MessageRejected      400: this message can never be sent; it is marked failed
        ├── DeliveryRetryable    5xx, timeouts: retried later with backoff
        └── DmRefused            a member's DMs are closed: their follows pause
"""

from __future__ import annotations


class PaperfeedError(Exception):
    """Base of every error the program expects; its message is fit for a user."""

    exit_code = 1


class ConfigError(PaperfeedError):
    """The configuration is invalid: names the file, the key and what was expected."""

    exit_code = 2


class QueryError(PaperfeedError):
    """A query was refused; the message says why in one line."""

    exit_code = 2


class PaperIdError(PaperfeedError):
    """A string is not an arXiv identifier or paper URL."""

    exit_code = 2


class UsageError(PaperfeedError):
    """A command that cannot be carried out as asked (ambiguous name, file-managed feed)."""

    exit_code = 2


class UserFacingError(PaperfeedError):
    """An expected refusal of a slash command; the Discord error handler shows its text as it is."""

    exit_code = 2


class StoreError(PaperfeedError):
    """The database could not be opened, migrated or written."""


class DuplicateFeedName(StoreError):
    """A feed name is unique within its guild; `name` is the one already taken."""

    def __init__(self, name: str) -> None:
        super().__init__(f'a feed named "{name}" already exists here')
        self.name = name


class IndexBusy(StoreError):
    """Another process holds the search index's rebuild lock: try again when it is done."""


class SearchIndexBuilding(StoreError):
    """A word search arrived while the search index is being built and FTS5 is not kept (the
    index serves every word search once built): try again when it is done."""


class SourceError(PaperfeedError):
    """An upstream source failed; `source` names it for health records."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message


class SourceUnavailable(SourceError):
    """A transient upstream failure (timeout, 429, 5xx) that is worth retrying later."""


class SourceResponseError(SourceError):
    """The upstream answered, but with something that cannot be used (bad status or body)."""


class DeliveryError(PaperfeedError):
    """Discord refused to deliver a message."""


class ChannelUnavailable(DeliveryError):
    """The feed's channel is gone or forbidden (Discord 403/404): pause the feed, don't retry."""


class MessageRejected(DeliveryError):
    """Discord refused this message itself (400): retrying the same body would fail again."""


class DeliveryRetryable(DeliveryError):
    """A transient failure (5xx, timeout, connection): try again later with backoff."""


class SemanticUnavailable(PaperfeedError):
    """A semantic feature was asked for but the `semantic` extra is not installed."""

    exit_code = 2


class DmRefused(DeliveryError):
    """The member does not accept DMs from the bot (50007, 50278, 403): pause, never retry."""


class FollowError(UserFacingError):
    """A personal follow that cannot be made or found; the message says why in one line."""
