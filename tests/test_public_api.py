"""The public surface is pinned: ``thunderid_mw.__all__`` is exactly what docs/api.md
documents, every name in it imports, and ``__version__`` is the installed version."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import thunderid_mw

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
# A documented name: the first backticked name of a table row (`A`, `B` rows name several).
ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \|", re.M)


def documented_names() -> set[str]:
    names: set[str] = set()
    for cell in ROW.findall(API_PAGE.read_text()):
        names.update(re.findall(r"`(\w+)`", cell))
    return names


def test_the_page_is_parsed() -> None:
    assert {"AuthContext", "ThunderIDConfig", "TokenExchangeConfig"} <= documented_names()


def test_all_is_what_the_docs_document() -> None:
    exported = set(thunderid_mw.__all__)
    assert sorted(exported - documented_names()) == [], "exported but not in docs/api.md"
    assert sorted(documented_names() - exported) == [], "in docs/api.md but not exported"
    assert len(thunderid_mw.__all__) == len(exported)


def test_every_exported_name_exists() -> None:
    missing = [name for name in thunderid_mw.__all__ if not hasattr(thunderid_mw, name)]
    assert missing == []


def test_version_is_the_installed_version() -> None:
    assert thunderid_mw.__version__ == importlib.metadata.version("thunderid-mw")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", thunderid_mw.__version__)
