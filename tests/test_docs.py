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


MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "firmware" / "PROTOCOL.md"]


def _anchors(md: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = re.findall(r"^#+\s+(.*?)\s*$", md.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_every_link_in_the_docs_leads_somewhere():
    """README.md and docs/ point at each other (and at images) by relative links; moving a section
    from one to another must not leave a link to a file or heading that is gone."""
    broken = []
    for md in MARKDOWN:
        for target in re.findall(r"\]\(([^)\s]+)\)", md.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s):, mailto:
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                broken.append(f"{md.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{md.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_leads_to_every_doc():
    """The README is kept short by sending a newcomer to docs/: each doc must be reachable from it."""
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"](docs/{p.name})" not in readme]
    assert not unlinked, f"README.md does not link {unlinked}"


def test_the_capture_log_and_map_file_in_the_docs_are_the_codes():
    """docs/analysis.md's capture-log tables, schema version, map file version and the map's measured
    placement of the test photos are the ones in contract/ and the shipped manifest."""
    import json

    from contract.capture_schema import MIGRATIONS, SCHEMA_VERSION
    from contract.mapfile import MANIFEST_KEY, VERSION

    text = (ROOT / "docs" / "analysis.md").read_text()
    assert f"`PRAGMA user_version`, now {SCHEMA_VERSION};" in text
    assert f"without pickles, version {VERSION}:" in text and f'`"fse-map"`, int {VERSION}' in text
    rows = {m[0]: m[1] for m in re.findall(r"^\| `(\w+)` \| (.*)\|$", text, re.M)}
    scripts = "\n".join(script for _, script in MIGRATIONS)
    for table in re.findall(r"CREATE TABLE (\w+)", scripts):
        assert table in rows, f"docs/analysis.md has no row for the table {table}"
    for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", scripts):
        assert f"`{column}`" in rows[table], f"docs/analysis.md does not name {table}.{column}"
    figures = json.loads((ROOT / "onnx_models" / "manifest.json").read_text())[MANIFEST_KEY]["fit"]["test_photos"]
    assert (
        f"{figures['knn_in_z']} of them in z" in text and f"for {figures['knn_placed_on_map']} where it lands" in text
    )
