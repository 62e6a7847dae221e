"""Optional extra strictness: request bodies checked against Discord's official OpenAPI spec.

The spec (`discord/discord-api-spec`, `specs/openapi.json`) lives beside the repository, at
`../shared/recordings/discord_openapi.json`, in development and in CI; `$PAPERFEED_DISCORD_OPENAPI`
may name another copy. It is never copied into the repository. When the fake is asked to use it
and the file is missing, it fails loudly rather than silently checking less.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .rules import FormErrors

SPEC_ENV = "PAPERFEED_DISCORD_OPENAPI"
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "recordings" / "discord_openapi.json"


def spec_required() -> bool:
    """In CI (where shared/recordings lies beside the clone) or when named, the spec must exist.

    A contributor's clone has no shared/ folder; there the fake still enforces every documented
    limit by hand (rules.py), only the extra schema layer is off, and the few tests of that layer
    say so with a skip naming where to put the file.
    """
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get(SPEC_ENV))


def spec_or_skip() -> Path:
    """The spec's path; outside CI, a missing spec skips the calling test with instructions."""
    import pytest

    try:
        return locate_openapi_spec()
    except FileNotFoundError as exc:
        if spec_required():
            raise
        pytest.skip(f"{exc} (download specs/openapi.json from discord/discord-api-spec)")


def openapi_validator_or_none() -> OpenAPIValidator | None:
    """The spec's validator; None (hand-written rules only) where the spec is missing and not
    required. Where it is required a missing spec raises, and pytest_configure in
    tests/conftest.py has already stopped the run with one line saying where to put it."""
    try:
        return load_openapi_validator()
    except FileNotFoundError:
        if spec_required():
            raise
        return None


def locate_openapi_spec() -> Path:
    """The spec's path; FileNotFoundError saying where it was looked for if it is not there."""
    named = os.environ.get(SPEC_ENV)
    path = Path(named) if named else DEFAULT_SPEC
    if not path.is_file():
        raise FileNotFoundError(
            f"Discord's OpenAPI spec was not found at {path} (looked at "
            f"{'$' + SPEC_ENV if named else 'the default location beside the repository'}). "
            f"Put discord_openapi.json there, set ${SPEC_ENV}, or start the fake with openapi=None."
        )
    return path


class OpenAPIValidator:
    """Validates JSON request bodies against the spec's `requestBody` schema for each route."""

    def __init__(self, spec: dict[str, Any], source: Path) -> None:
        self.source = source
        self._spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:discord", resource)
        self._validators: dict[tuple[str, str], jsonschema.Draft202012Validator | None] = {}

    def _validator(self, method: str, route: str) -> jsonschema.Draft202012Validator | None:
        key = (method.lower(), route)
        if key not in self._validators:
            spec_path = route
            operation = self._spec.get("paths", {}).get(spec_path, {}).get(key[0], {})
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                self._validators[key] = None
            else:
                pointer = "/".join(
                    part.replace("~", "~0").replace("/", "~1")
                    for part in (
                        "paths",
                        spec_path,
                        key[0],
                        "requestBody",
                        "content",
                        "application/json",
                        "schema",
                    )
                )
                self._validators[key] = jsonschema.Draft202012Validator(
                    {"$ref": f"urn:discord#/{pointer}"}, registry=self._registry
                )
        return self._validators[key]

    def covers(self, method: str, route: str) -> bool:
        """Whether the spec has a JSON body schema for this route."""
        return self._validator(method, route) is not None

    def check(self, method: str, route: str, body: Any, errors: FormErrors) -> None:
        """Add every schema violation of `body` to `errors`, keyed by where it is."""
        validator = self._validator(method, route)
        if validator is None:
            return
        body = _snowflakes_as_strings(body)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            best = jsonschema.exceptions.best_match([error])
            errors.add(
                [*best.absolute_path],
                f"OPENAPI_{str(best.validator).upper()}",
                f"(OpenAPI spec) {best.message[:300]}",
            )


_SNOWFLAKE_LISTS = frozenset({"users", "roles", "applied_tags", "sticker_ids"})


def _snowflakes_as_strings(value: Any, key: str = "") -> Any:
    """The spec types snowflakes as strings; Discord also takes integers, and discord.py sends
    them (e.g. `attachments[].id`), so compare with integer ids written as strings."""
    if isinstance(value, dict):
        return {k: _snowflakes_as_strings(v, k) for k, v in value.items()}
    if isinstance(value, list):
        inner = key if key in _SNOWFLAKE_LISTS or key.endswith("_ids") else ""
        return [_snowflakes_as_strings(v, inner) for v in value]
    is_id = key == "id" or key.endswith("_id") or key in _SNOWFLAKE_LISTS or key.endswith("_ids")
    if is_id and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


@functools.cache
def load_openapi_validator(path: Path | None = None) -> OpenAPIValidator:
    """The validator for the spec at `path` (default: located), loaded once per process."""
    source = path or locate_openapi_spec()
    return OpenAPIValidator(json.loads(source.read_text(encoding="utf-8")), source)
