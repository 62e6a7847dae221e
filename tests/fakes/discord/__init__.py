"""A loopback Discord for end-to-end tests: a real discord.py client against a strict fake of
Discord's REST API and gateway (anything it accepts, Discord accepts). See README.md here."""

from .clock import FakeClock
from .interactions import InvalidInjection
from .records import CallbackRecord, InteractionRecord, Message, Pings, RequestRecord
from .rules import DiscordHTTPError
from .schema import OpenAPIValidator, load_openapi_validator, locate_openapi_spec
from .server import FakeDiscord
from .state import ALL_PERMISSIONS, Channel, ChannelType, Guild, Member, Perm, Role, User
from .world import World

__all__ = [
    "ALL_PERMISSIONS",
    "CallbackRecord",
    "Channel",
    "ChannelType",
    "DiscordHTTPError",
    "FakeClock",
    "FakeDiscord",
    "Guild",
    "InteractionRecord",
    "InvalidInjection",
    "Member",
    "Message",
    "OpenAPIValidator",
    "Perm",
    "Pings",
    "RequestRecord",
    "Role",
    "User",
    "World",
    "load_openapi_validator",
    "locate_openapi_spec",
]
