"""The seam between the framework and its applications, enforced.

The import-linter contracts in .importlinter: the framework (capstan.api,
capstan.common, capstan.worker) never imports an application; api and
worker stand on common, never the other way; an application does not
import the framework's entry points. Applications use public names only.
"""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPLICATION = ROOT / "capstan_volumes"


def test_import_linter_contracts_are_kept():
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / ".importlinter")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].split(
        "\n")[0].replace("0 broken", "")


def _framework_imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        module = getattr(node, "module", None) or ""
        if isinstance(node, ast.ImportFrom) and (
                module == "capstan" or module.startswith("capstan.")):
            yield module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("capstan."):
                    yield alias.name, []


def test_application_uses_only_public_framework_names():
    private = []
    for path in sorted(APPLICATION.rglob("*.py")):
        for module, names in _framework_imports(path):
            parts = module.split(".") + names
            private += [f"{path.relative_to(ROOT)}: {module} {name}"
                        for name in parts if name.startswith("_")]
    assert private == []


def test_framework_names_no_application_concept():
    words = ("volume", "volumes", "snapshot", "snapshots")
    found = []
    for top in ("api", "common", "worker"):
        for directory, _dirs, files in os.walk(ROOT / top):
            for name in files:
                if not name.endswith((".py", ".mako", ".yaml")):
                    continue
                path = pathlib.Path(directory, name)
                text = path.read_text(encoding="utf-8").lower()
                tokens = set(words_of(text))
                found += [f"{path.relative_to(ROOT)}: {word}"
                          for word in words if word in tokens]
    assert found == []


def words_of(text: str):
    word = []
    for char in text:
        if char.isalnum() or char == "_":  # as grep -w counts words
            word.append(char)
        elif word:
            yield "".join(word)
            word = []
    if word:
        yield "".join(word)
