"""docker-compose.yml, validated by Compose itself, both ways of passing the token (issue 18).

Needs `docker compose` (the plugin) or `docker-compose`, which tests/container/run.sh installs
where neither is there; so these tests run in that step ($PAPERFEED_CONTAINER_DOCKER set), where
a missing Compose is a failure, and are skipped elsewhere (in CI the install may still be
under way in the background while the other tests run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The lines to uncomment (and the one to comment out) for the Docker-secret variant, as the
# file's own header says.
SECRET_LINES = re.compile(
    r"^(\s*)# ((?:environment:|  PAPERFEED_CONFIG: |secrets:|  - discord_token|"
    r"  discord_token:|    file: ).*)$",
    re.M,
)


def compose_command() -> list[str] | None:
    for docker in (os.environ.get("PAPERFEED_CONTAINER_DOCKER"), shutil.which("docker")):
        if docker:
            probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
            if probe.returncode == 0:
                return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


if not os.environ.get("PAPERFEED_CONTAINER_DOCKER"):
    pytest.skip("Compose is checked by bash tests/container/run.sh", allow_module_level=True)
COMPOSE = compose_command()


def resolved_config(folder: Path) -> str:
    """`compose config` of the folder's docker-compose.yml (and .env), as Compose resolves it;
    none of this shell's COMPOSE_ or PAPERFEED_HOST_PORT settings reach it."""
    assert COMPOSE is not None, "no `docker compose` and no `docker-compose`"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COMPOSE_") and k != "PAPERFEED_HOST_PORT"
    }
    result = subprocess.run(
        [*COMPOSE, "--project-directory", str(folder), "-f", str(folder / "docker-compose.yml"),
         "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=folder, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def published(resolved: str) -> set[tuple[str, str, str]]:
    """(host address, host port, container port) of each port mapping `compose config` shows,
    in the short form (docker-compose 1) or the long one (Compose 2)."""
    short = re.findall(r"- ([\d.]+):(\d+):(\d+)(?:/tcp)?\n", resolved)
    long = re.findall(r"host_ip: ([\d.]+)\n\s+target: (\d+)\n\s+published: \"?(\d+)\"?", resolved)
    return {*short, *((ip, host, target) for ip, target, host in long)}


def secret_variant(text: str) -> str:
    text = text.replace("\n    env_file: .env\n", "\n    # env_file: .env\n")
    return SECRET_LINES.sub(r"\1\2", text)


@pytest.mark.parametrize("variant", ["env-file", "secret"])
def test_compose_file_validates(tmp_path: Path, variant: str) -> None:
    assert COMPOSE is not None, "no `docker compose` and no `docker-compose`"
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    if variant == "secret":
        text = secret_variant(text)
        assert "env_file" not in "\n".join(
            ln for ln in text.splitlines() if not ln.lstrip().startswith("#")
        )
    (tmp_path / "docker-compose.yml").write_text(text, encoding="utf-8")
    (tmp_path / ".env").write_text("DISCORD_TOKEN=not-a-real-token\n", encoding="utf-8")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "discord_token").write_text("not-a-real-token\n", encoding="utf-8")
    resolved = resolved_config(tmp_path)
    assert "/data" in resolved and "paperfeed-data" in resolved
    assert re.search(r"stop_grace_period: 30s", resolved)
    assert published(resolved) == {("127.0.0.1", "8080", "8080")}
    if variant == "secret":
        assert "PAPERFEED_CONFIG: /etc/paperfeed/config-secret.toml" in resolved
        assert re.search(
            r"secrets:\n\s+discord_token:\n\s+file: \S+/secrets/discord_token", resolved
        )
    else:
        assert "DISCORD_TOKEN" in resolved


def test_postgres_compose_file_validates_on_top_of_the_default(tmp_path: Path) -> None:
    """docker-compose.postgres.yml: PostgreSQL with a volume and a healthcheck, the bot waiting
    for it healthy, the URL built from .env's POSTGRES_PASSWORD (issue 14)."""
    assert COMPOSE is not None, "no `docker compose` and no `docker-compose`"
    for name in ("docker-compose.yml", "docker-compose.postgres.yml"):
        (tmp_path / name).write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=not-a-real-token\nPOSTGRES_PASSWORD=pw-for-the-test\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    files = [
        "-f",
        str(tmp_path / "docker-compose.yml"),
        "-f",
        str(tmp_path / "docker-compose.postgres.yml"),
    ]
    result = subprocess.run(
        [*COMPOSE, "--project-directory", str(tmp_path), *files, "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved = result.stdout
    assert (
        "PAPERFEED_DATABASE_URL: postgresql://paperfeed:pw-for-the-test@postgres:5432/paperfeed"
        in resolved
    )
    assert "condition: service_healthy" in resolved and "pg_isready" in resolved
    assert "paperfeed-postgres" in resolved and "/var/lib/postgresql/data" in resolved
    # Without the password, Compose refuses with the file's own message.
    (tmp_path / ".env").write_text("DISCORD_TOKEN=not-a-real-token\n", encoding="utf-8")
    refused = subprocess.run(
        [*COMPOSE, "--project-directory", str(tmp_path), *files, "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr


def test_cluster_compose_file_validates_with_every_role(tmp_path: Path) -> None:
    """docker-compose.cluster.yml: PostgreSQL, two gateways with shard ranges, two pollers and
    two publishers, all waiting for the database (issue 15)."""
    assert COMPOSE is not None, "no `docker compose` and no `docker-compose`"
    name = "docker-compose.cluster.yml"
    (tmp_path / name).write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=not-a-real-token\nPOSTGRES_PASSWORD=pw-for-the-test\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    result = subprocess.run(
        [*COMPOSE, "--project-directory", str(tmp_path), "-f", str(tmp_path / name), "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved = result.stdout
    for service in ("gateway-0", "gateway-1", "poller-1", "poller-2", "publisher-1", "publisher-2"):
        assert f"  {service}:" in resolved, service
    assert resolved.count("condition: service_healthy") == 6
    assert resolved.count("--shard-count") == 2
    assert "postgresql://paperfeed:pw-for-the-test@postgres:5432/paperfeed" in resolved


def test_the_host_port_of_health_is_chosen_in_the_environment(tmp_path: Path) -> None:
    """8080 taken on the host: PAPERFEED_HOST_PORT moves /healthz there, the container's stays."""
    assert COMPOSE is not None, "no `docker compose` and no `docker-compose`"
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    (tmp_path / "docker-compose.yml").write_text(text, encoding="utf-8")
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=not-a-real-token\nPAPERFEED_HOST_PORT=18080\n", encoding="utf-8"
    )
    resolved = resolved_config(tmp_path)
    assert published(resolved) == {("127.0.0.1", "18080", "8080")}, resolved
