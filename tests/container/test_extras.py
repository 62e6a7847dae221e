"""The Dockerfile's EXTRAS build argument, checked without an engine: CI builds only the default
image, so this is what keeps `--build-arg EXTRAS=semantic` from quietly building one without it.

Both uses are replayed by `sh` as written in the Dockerfile: the builder's requirements script
(which wheels are built) and the runtime stage's pip install line (what is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.ops.test_container import DOCKERFILE, REPO, Stage, global_args, read_dockerfile

SH = shutil.which("sh")


def stages() -> list[Stage]:
    return read_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def run_using_extras(stage: Stage, marker: str) -> str:
    """The stage's one RUN that names `marker` and reads EXTRAS; its stage redeclares EXTRAS
    before it (a global ARG is not seen inside a stage otherwise)."""
    (run,) = [r for r in stage.all("RUN") if marker in r.args and "EXTRAS" in r.args]
    declared = [a.line for a in stage.all("ARG") if re.fullmatch(r"EXTRAS(=.*)?", a.args)]
    assert declared and min(declared) < run.line, f"stage {stage.name}: no ARG EXTRAS before use"
    return run.args


def sh(command: str, cwd: Path, extras: str) -> subprocess.CompletedProcess[str]:
    assert SH is not None
    bin_dir = cwd / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)  # the Dockerfile says `python`
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "EXTRAS": extras}
    return subprocess.run(
        [SH, "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_extras_defaults_to_none() -> None:
    assert global_args(DOCKERFILE.read_text(encoding="utf-8")).get("EXTRAS") == '""'


@pytest.mark.skipif(SH is None, reason="no sh")
def test_the_builder_builds_wheels_for_the_extras_asked_for(work: Path) -> None:
    builder = next(s for s in stages() if s.name == "builder")
    script = run_using_extras(builder, "requirements.txt").split(" && pip wheel", 1)[0]
    optional = tomllib.loads((work / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    assert sh(script, work, "").returncode == 0
    plain = (work / "requirements.txt").read_text().splitlines()
    assert not set(optional["semantic"]) & set(plain)

    made = sh(script, work, "semantic")
    assert made.returncode == 0, made.stderr
    assert set((work / "requirements.txt").read_text().splitlines()) == {
        *plain,
        *optional["semantic"],
    }
    assert sh(script, work, "semantik").returncode != 0  # a misspelt extra stops the build


@pytest.mark.skipif(SH is None, reason="no sh")
def test_the_runtime_installs_the_wheel_with_the_extras_asked_for(work: Path) -> None:
    runtime = stages()[-1]
    line = run_using_extras(runtime, "pip install")
    wheels = work / "wheels"
    wheels.mkdir()
    (wheels / "paperfeed-1.2.3-py3-none-any.whl").touch()
    # The install line as written, with pip replaced by a printer of its last argument.
    command = re.sub(r"^(--mount=\S+\s+)+", "", line).replace("/wheels", str(wheels))
    assert command.startswith("pip install ")
    command = 'last() { for a; do :; done; echo "$a"; }; last ' + command[len("pip install ") :]
    wheel = str(wheels / "paperfeed-1.2.3-py3-none-any.whl")
    for extras, wanted in (("", wheel), ("semantic", f"{wheel}[semantic]")):
        shown = sh(command, work, extras)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip() == wanted
