"""docs/deployment.md lists exactly the log events the code can emit (core/events.py)."""

from __future__ import annotations

import re
from pathlib import Path

from thunderid_mw.core import events

DOC = Path(__file__).resolve().parents[1] / "docs" / "deployment.md"


def test_the_event_table_matches_the_code() -> None:
    text = DOC.read_text()
    table = text.split("| event | level | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", table, flags=re.MULTILINE)
    assert sorted(documented) == sorted(events.ALL_EVENTS)


def test_every_event_is_used_somewhere() -> None:
    package = DOC.parents[1] / "thunderid_mw"
    source = "\n".join(p.read_text() for p in package.rglob("*.py") if p.name != "events.py")
    names = {v: k for k, v in vars(events).items() if isinstance(v, str)}
    for event in events.ALL_EVENTS:
        assert re.search(rf"\b{names[event]}\b", source), f"{event} is never logged"
