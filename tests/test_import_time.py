"""What importing the package costs and pulls in, as ``python -X importtime`` reports it:
no web framework, no Redis client and no optional extra is imported by ``thunderid_mw``
or by the framework-agnostic ``thunderid_mw.integrations`` (a Flask app must not load
Django). The time is printed for the record, never asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

OPTIONAL = {
    "authlib", "bottle", "django", "falcon", "fastapi", "flask", "litestar", "pyramid",
    "quart", "redis", "sanic", "starlette", "werkzeug",
}  # fmt: skip


def imported_by(statement: str) -> tuple[set[str], int]:
    """Top-level names of every module ``statement`` imports, and the total in µs."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    modules = {row[2].strip().split(".")[0] for row in rows[1:]}  # rows[0] is the header
    total = sum(int(row[0].split(":")[1]) for row in rows[1:])
    return modules, total


@pytest.mark.parametrize("statement", ["import thunderid_mw", "import thunderid_mw.integrations"])
def test_no_optional_package_is_imported(statement: str) -> None:
    modules, total = imported_by(statement)
    assert "thunderid_mw" in modules and "httpx" in modules  # the reading works
    assert not modules & OPTIONAL, modules & OPTIONAL
    print(f"{statement}: {total / 1000:.0f} ms of imports")


def test_a_framework_helper_imports_its_framework() -> None:
    """The control: the check would see a framework being imported."""
    modules, _ = imported_by("import thunderid_mw.integrations.flask")
    assert "flask" in modules
