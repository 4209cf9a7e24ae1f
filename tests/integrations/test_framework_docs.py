"""The framework pages (docs/frameworks/*.md): every Python snippet parses, and every
name it imports from thunderid_mw exists (the pages' apps themselves are the tested apps
under tests/apps/)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).parents[2] / "docs" / "frameworks").glob("*.md"))


def test_every_framework_has_a_page() -> None:
    names = {page.stem for page in PAGES}
    integrations = Path(__file__).parents[2] / "thunderid_mw" / "integrations"
    helpers = {p.stem for p in integrations.glob("*.py") if not p.stem.startswith("_")}
    assert helpers - {"starlette"} <= names  # starlette is on the FastAPI page
    assert {"any-framework", "authorization"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_snippets_parse_and_import_real_names(page: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks, f"{page.name} has no Python snippet"
    for block in blocks:
        for node in ast.walk(ast.parse(block, page.name)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("thunderid_mw"):
                module = importlib.import_module(node.module or "")
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{page.name}: {node.module}.{alias.name}"
