"""The docs name real things: every test docs/reliability.md cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reliability_table_cites_tests_that_exist():
    """`tests/test_x.py::name` (or `test_x.py::name`) names a test; a following `::other` is in the same file."""
    missing, cited = [], 0
    for line in (ROOT / "docs" / "reliability.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for file, name in re.findall(r"`((?:tests/)?test_\w+\.py)?::(\w+)`", line):
            current = ("tests/" + file.removeprefix("tests/")) if file else current
            if current is None:
                missing.append(f"::{name} has no file before it")
                continue
            cited += 1
            source = ROOT / current
            if not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(), re.M):
                missing.append(f"{current}::{name}")
    assert cited, "docs/reliability.md cites no tests"
    assert not missing, "docs/reliability.md cites tests that do not exist: " + ", ".join(missing)
