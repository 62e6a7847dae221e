"""The real image, built from the Dockerfile and run by a Docker engine (issue 18).

`tests/container/run.sh` starts a private engine and points these tests at it
($PAPERFEED_CONTAINER_DOCKER, $DOCKER_HOST); without it they are skipped. The commands are the
README's ("Running in Docker"), read from it and changed only where a test must:

- `docker` is the engine's CLI; builds and containers use `--network host` (the engine has
  no bridge, and the fakes listen on 127.0.0.1);
- names get a per-run suffix, the token is the fake Discord's, `-p` is dropped (the host's
  network is the container's), and the build passes the version label (`--build-arg VERSION`);
- each run mounts its own configuration (the README's `-v $PWD/config.toml:...` form) that
  points at the loopback Discord and Hugging Face fakes and sets a health port of its own,
  and asks Docker to run the image's HEALTHCHECK every second instead of every 30.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import __version__
from tests.fakes.discord import FakeDiscord
from tests.fakes.upstreams import FakeUpstreamServer, Reply, UpstreamScript
from tests.ops.support import free_port
from tests.reliability.support import posts_by_pair
from tests.sources.samples import hf_item

DOCKER = os.environ.get("PAPERFEED_CONTAINER_DOCKER", "")
if not DOCKER:  # one line in the summary for the whole module
    pytest.skip(
        "no container engine: bash tests/container/run.sh starts one", allow_module_level=True
    )

REPO = Path(__file__).resolve().parents[2]
SUFFIX = f"{os.getpid()}"
IMAGE = f"paperfeed-test:{SUFFIX}"
TOKEN = "MTAxNTk5NzI4.container-SECRET-token.Zm9vYmFyYmF6cXV4"
MAX_IMAGE_BYTES = 250_000_000
STOP_TIMEOUT = 30  # the README's `docker stop -t 30`
UID = "10001"


# ---- the README's commands -------------------------------------------------------------------


def readme_commands() -> list[list[str]]:
    """Every `docker ...` command in the README's "Running in Docker" code blocks."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Running in Docker\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("docker "):
                commands.append(shlex.split(line, comments=True))
    return commands


def readme_command(subcommand: str, *, containing: str | None = None) -> list[str]:
    found = [
        argv
        for argv in readme_commands()
        if argv[1] == subcommand and (containing is None or any(containing in a for a in argv))
    ]
    assert found, f"the README shows no `docker {subcommand}` with {containing!r}"
    return found[0]


def adapt(argv: list[str], *, name: str, extra: list[str], volume: str, files: dict[str, str]) -> list[str]:  # fmt: skip
    """The README's `argv` as the test runs it (see the module docstring)."""
    out = [DOCKER, argv[1], "--network", "host", *extra]
    args = iter(argv[2:])
    previous = ""
    for arg in args:
        if arg in ("-p", "--publish"):
            next(args)
            continue
        if arg == "paperfeed":  # a container name after --name or in `stop`, else the image
            arg = name if previous == "--name" or argv[1] == "stop" else IMAGE
        elif arg == "DISCORD_TOKEN=...":
            arg = f"DISCORD_TOKEN={TOKEN}"
        elif arg.startswith("paperfeed-data:"):
            arg = volume + arg.removeprefix("paperfeed-data")
        else:
            for host_path, replacement in files.items():
                arg = arg.replace(host_path, replacement)
        out.append(arg)
        previous = arg
    return out


# ---- the engine ------------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


async def docker(*args: str, timeout: float = 120, check: bool = True) -> Result:
    argv = list(args) if args[0] == DOCKER else [DOCKER, *args]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        cwd=REPO,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{shlex.join(argv)} took more than {timeout} s") from None
    result = Result(
        proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if check and result.code != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.code}:\n{result.text[-4000:]}")
    return result


def docker_sync(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    """`docker build` as the README says; the image's `docker image inspect` document."""
    build = adapt(
        readme_command("build"),
        name="",
        extra=["--build-arg", f"VERSION={__version__}"],
        volume="",
        files={},
    )
    started = time.monotonic()
    built = subprocess.run(build, capture_output=True, text=True, timeout=900, check=False,
                           cwd=REPO, env={**os.environ, "DOCKER_BUILDKIT": "1"})  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-6000:]
    print(f"image built in {time.monotonic() - started:.1f} s")
    inspected = docker_sync("image", "inspect", IMAGE)
    assert inspected.returncode == 0, inspected.stderr
    document: dict[str, Any] = json.loads(inspected.stdout)[0]
    return document


# ---- the image -------------------------------------------------------------------------------


def test_image_is_small_non_root_labelled_and_checks_its_health(image: dict[str, Any]) -> None:
    size = image["Size"]
    print(f"image size {size / 1e6:.0f} MB")
    assert size < MAX_IMAGE_BYTES, f"the image is {size / 1e6:.0f} MB"
    config = image["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Healthcheck"]["Test"] == ["CMD", "paperfeed", "healthcheck"]
    assert config["Entrypoint"] == ["paperfeed"] and config["Cmd"] == ["run"]
    assert config["Labels"]["org.opencontainers.image.version"] == __version__
    assert "/data" in config["Volumes"]


def test_image_runs_the_installed_package_at_the_pinned_versions(image: dict[str, Any]) -> None:
    version = docker_sync("run", "--rm", "--network", "none", IMAGE, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"paperfeed {__version__}"
    script = (
        "import bot, importlib.metadata as m; print(bot.__file__); "
        "print(*(f'{d.metadata[\"Name\"]}=={d.version}' for d in m.distributions()), sep='\\n')"
    )
    listed = docker_sync("run", "--rm", "--network", "none", "--entrypoint", "python", IMAGE, "-c", script)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    where, *dists = listed.stdout.split()
    assert "-packages/bot/" in where, "the image must run the installed wheel, not a source tree"
    installed = {d.split("==")[0].lower().replace("_", "-"): d.split("==")[1] for d in dists}
    pinned = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version_ = line.partition("==")
            pinned[name.lower().replace("_", "-")] = version_
    runtime = ("discord.py", "aiohttp", "httpx", "aiosqlite", "feedparser", "apscheduler",
               "prometheus-client", "yarl", "h11")  # fmt: skip
    for name in runtime:
        assert installed.get(name) == pinned[name], f"{name}: {installed.get(name)} in the image, {pinned[name]} pinned"  # fmt: skip


# ---- the container against the fakes --------------------------------------------------------


def hf_paper(paper_id: str, title: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    item = hf_item(paper_id, title, publishedAt=now, submittedOnDailyAt=now, upvotes=3)
    item["publishedAt"] = now
    return item


@dataclass
class Stage:
    fake: FakeDiscord
    upstream: FakeUpstreamServer
    script: UpstreamScript
    tmp: Path
    volume: str
    names: list[str]
    channel: int

    def config(self, port: int, *, token_file: bool = False) -> Path:
        """A configuration for the container: the fakes, the volume, a health port of its own."""
        text = (
            "[discord]\n"
            f'api_base = "{self.fake.api_base}"\ngateway_url = "{self.fake.gateway_url}"\n'
            + ('token_file = "/run/secrets/discord_token"\n' if token_file else "")
            + '[database]\npath = "/data/paperfeed.sqlite3"\n'
            f'[sources.huggingface]\nbase_url = "{self.upstream.url}"\n'
            # The first poll comes 20 s after the start less one interval (bot.discord.runner):
            # 5 s here, then one every 15 s.
            'interval = "15s"\n'
            "[sources.arxiv]\nenabled = false\n"
            f'[health]\nhost = "127.0.0.1"\nport = {port}\n'
            '[logging]\nlevel = "INFO"\n'
            "[[feeds]]\n"
            f'name = "containers"\nchannel_id = {self.channel}\nquery = "container"\n'
        )
        path = self.tmp / f"config-{port}.toml"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)  # read by uid 10001 inside the container
        return path

    def posts(self) -> dict[str, int]:
        return {paper: n for (_, paper), n in posts_by_pair(self.fake, [self.channel]).items()}


@pytest.fixture
async def stage(tmp_path: Path, image: dict[str, Any]) -> AsyncIterator[Stage]:
    fake = await FakeDiscord(token=TOKEN, openapi=None).start()
    script = UpstreamScript()
    script.route("/api/daily_papers", Reply.json([]))
    try:
        async with FakeUpstreamServer(script) as upstream:
            assert fake.world is not None
            staged = Stage(fake, upstream, script, tmp_path, f"paperfeed-test-data-{SUFFIX}", [],
                           fake.world.papers.id)  # fmt: skip
            try:
                yield staged
            finally:
                for name in staged.names:
                    await docker("rm", "-f", name, check=False)
                await docker("volume", "rm", "-f", staged.volume, check=False)
    finally:
        await fake.close()


async def inspect(name: str) -> dict[str, Any]:
    found = await docker("inspect", name)
    state: dict[str, Any] = json.loads(found.out)[0]
    return state


async def running_state(name: str) -> dict[str, Any]:
    """The container's State; fails at once if it exited or was restarted (--restart)."""
    document = await inspect(name)
    state: dict[str, Any] = document["State"]
    if not state["Running"] or document["RestartCount"] > 0:
        logs = await docker("logs", name, check=False)
        raise AssertionError(
            f"{name} stopped (exit {state['ExitCode']}, restarts {document['RestartCount']}):\n"
            + logs.text[-3000:]
        )
    return state


async def wait_healthy(name: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = (await running_state(name)).get("Health") or {}
        if health.get("Status") == "healthy":
            return health
        if health.get("Status") == "unhealthy" or time.monotonic() > deadline:
            logs = await docker("logs", name, check=False)
            raise AssertionError(
                f"{name}: {health.get('Status')}, health log {health.get('Log')}\n"
                + logs.text[-3000:]
            )
        await asyncio.sleep(0.5)


async def wait_for_post(stage: Stage, name: str, paper: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while paper not in stage.posts():
        await running_state(name)
        if time.monotonic() > deadline:
            logs = await docker("logs", name, check=False)
            raise AssertionError(f"no post of {paper} from {name}:\n{logs.text[-3000:]}")
        with contextlib.suppress(AssertionError, TimeoutError):
            await stage.fake.wait_until(lambda: paper in stage.posts(), timeout=1, what=paper)


async def stop(name: str) -> float:
    """The README's `docker stop -t 30`; how long the container took to exit, with status 0."""
    argv = adapt(readme_command("stop"), name=name, extra=[], volume="", files={})
    argv.remove("--network")
    argv.remove("host")
    started = time.monotonic()
    await docker(*argv, timeout=STOP_TIMEOUT + 30)
    took = time.monotonic() - started
    state = (await inspect(name))["State"]
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    return took


def leaks(text: str) -> list[str]:
    parts = {p for p in TOKEN.split(".") if len(p) >= 8} | {TOKEN}
    return sorted(p for p in parts if p in text)


async def test_runs_posts_once_stops_cleanly_and_resumes_on_its_volume(stage: Stage) -> None:
    t0 = time.monotonic()

    def mark(what: str) -> None:
        print(f"{time.monotonic() - t0:6.1f} s  {what}")

    stage.script.route(
        "/api/daily_papers", Reply.json([hf_paper("2611.01001", "Container runtimes at scale")])
    )
    health = ["--health-interval", "1s"]

    # 1. The README's `docker run` with $DISCORD_TOKEN and a configuration of its own.
    first, port = f"paperfeed-test-{SUFFIX}-1", free_port()
    stage.names.append(first)
    run = adapt(readme_command("run", containing="DISCORD_TOKEN=..."), name=first, volume=stage.volume,
                extra=[*health, "-v", f"{stage.config(port)}:/etc/paperfeed/config.toml:ro"],
                files={})  # fmt: skip
    await docker(*run)
    checked = await wait_healthy(first)
    mark("healthy 1")
    assert f"http://127.0.0.1:{port}/healthz answered 200" in checked["Log"][-1]["Output"]

    # Non-root, and /data is its own.
    status = await docker("exec", first, "cat", "/proc/1/status")
    assert re.search(rf"^Uid:\s+{UID}\s+{UID}\s", status.out, re.M), status.out
    assert (await docker("exec", first, "stat", "-c", "%u:%g %a", "/data")).out.split() == [
        f"{UID}:{UID}",
        "700",
    ]
    await docker("exec", first, "sh", "-c", "touch /data/.probe && rm /data/.probe")
    other = await docker("exec", "-u", "10002:10002", first, "touch", "/data/intruder", check=False)
    assert other.code != 0, "another user could write to /data"

    await wait_for_post(stage, first, "2611.01001")
    mark("posted 1")
    assert stage.posts() == {"2611.01001": 1}

    took = await stop(first)
    mark("stopped 1")
    print(f"docker stop took {took:.1f} s")
    assert took < STOP_TIMEOUT / 3, f"docker stop took {took:.1f} s of its {STOP_TIMEOUT} s"
    logs = [(await docker("logs", first)).text]

    # 2. Again on the same volume, the token from a secret file this time: the old paper is not
    # posted again, a new one is, once.
    stage.script.route(
        "/api/daily_papers",
        Reply.json([hf_paper("2611.01001", "Container runtimes at scale"),
                    hf_paper("2611.01002", "Container images, smaller")]),
    )  # fmt: skip
    secret = stage.tmp / "discord_token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    secret.chmod(0o400)
    os.chown(secret, int(UID), int(UID))  # the container's user alone reads it (run.sh is root)
    second, port = f"paperfeed-test-{SUFFIX}-2", free_port()
    stage.names.append(second)
    config = stage.config(port, token_file=True)
    run = adapt(readme_command("run", containing="/run/secrets/discord_token"), name=second,
                volume=stage.volume,
                extra=[*health, "-v", f"{config}:/etc/paperfeed/config-secret.toml:ro"],
                files={"$PWD/secrets/discord_token": str(secret)})  # fmt: skip
    assert not any("DISCORD_TOKEN" in arg for arg in run)
    await docker(*run)
    checked = await wait_healthy(second)
    mark("healthy 2")
    assert f"http://127.0.0.1:{port}/healthz answered 200" in checked["Log"][-1]["Output"]
    await wait_for_post(stage, second, "2611.01002")
    mark("posted 2")
    await asyncio.sleep(2)  # anything else queued in the same cycle has been sent by now
    assert stage.posts() == {"2611.01001": 1, "2611.01002": 1}
    owner = await docker("exec", second, "stat", "-c", "%u %a", "/data/paperfeed.sqlite3")
    assert owner.out.split()[0] == UID

    took = await stop(second)
    mark("stopped 2")
    assert took < STOP_TIMEOUT / 3, f"docker stop took {took:.1f} s of its {STOP_TIMEOUT} s"
    logs.append((await docker("logs", second)).text)
    for text in logs:
        assert not leaks(text), "the token appeared in `docker logs`"
        assert "Traceback" not in text, text[-3000:]
