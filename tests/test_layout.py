"""The folders are the architecture: these tests keep the import directions that say so."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONTRACT_MAY_IMPORT = {"numpy", "__future__", "contract"} | set(sys.stdlib_module_names)


def test_contract_is_numpy_only():
    """contract/ is what every side imports, so it may need nothing but numpy and the standard library."""
    bad = []
    for f in sorted((ROOT / "contract").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            bad += [
                f"{f.relative_to(ROOT)}:{node.lineno} imports {n}"
                for n in names
                if n.split(".")[0] not in CONTRACT_MAY_IMPORT
            ]
    assert not bad, "\n".join(bad)


def test_every_phony_make_target_has_a_rule():
    """`.PHONY` once named a `models` rule that did not exist."""
    import re

    text = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split()
    rules = set(re.findall(r"^([A-Za-z0-9_-]+):", text, re.M))
    assert set(phony) <= rules, set(phony) - rules
