"""The folders are the architecture: these tests keep the import directions that say so, over every file.

The booth runs without torch or UMAP, an analyst's laptop without torch, and nothing but the kiosk
itself (and the tests and benchmarks that drive it) reaches into the kiosk's screen.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# Folders that are not this repository's code: environments, build outputs, the simulator's build.
NOT_OURS = {".venv", ".git", "build", "node_modules", "test-artifacts"}

STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# A distribution whose import name differs from its name on PyPI.
IMPORT_NAME = {
    "pyserial": "serial",
    "pygame-ce": "pygame",
    "pillow": "PIL",
    "umap-learn": "umap",
    "python-escpos": "escpos",
}

SCREEN = ("kiosk.app", "kiosk.ui")
# (importer folder, forbidden module, why). A forbidden module forbids its submodules too.
RULES = [
    ("kiosk", "training", "the booth runs without torch"),
    ("kiosk", "analysis", "the booth does not depend on the analyst's tools"),
    ("analysis", "training", "an analyst's machine needs no torch"),
    ("analysis", "torch", "an analyst's machine needs no torch"),
    *(
        (folder, screen, "only the kiosk (and the tests and benchmarks that drive it) uses its screen")
        for folder in ("contract", "training", "analysis", "scripts")
        for screen in SCREEN
    ),
]


def distributions_to_modules(requirements: list[str]) -> set[str]:
    names = {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in requirements}
    return {IMPORT_NAME.get(n, n.replace("-", "_")) for n in names}


KIOSK_EXTRAS = ("printer",)
"""Optional kiosk extras: the receipt printer's library (python-escpos, with Pillow), installed only on
a booth with a printer and imported only inside a print job (kiosk/share/printer.py)."""


def kiosk_may_import(pyproject: Path) -> set[str]:
    """The kiosk runs on its declared runtime dependencies alone (`make run` installs nothing else),
    plus the optional extras in KIOSK_EXTRAS."""
    project = tomllib.loads(pyproject.read_text())["project"]
    deps = project["dependencies"] + [d for extra in KIOSK_EXTRAS for d in project["optional-dependencies"][extra]]
    return STDLIB | {"contract", "kiosk", "tomllib"} | distributions_to_modules(deps)


def python_files(root: Path):
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if not NOT_OURS & set(parts) and "simavr/build" not in path.as_posix():
            yield path


def imported_modules(path: Path, root: Path):
    """(line, module) for every import in the file: top-level or inside a function, relative imports
    resolved, `from a import b` as both `a` and `a.b`, and `importlib.import_module("a")` / `__import__("a")`."""
    package = list(path.relative_to(root).parts[:-1])  # a module's package; an __init__'s is itself
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module:
                yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}" if module else alias.name
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def import_violations(root: Path) -> tuple[list[str], dict[str, int]]:
    """Every broken import rule under `root`, and how many files were read in each top folder."""
    allowed_in_kiosk = kiosk_may_import(root / "pyproject.toml")
    broken, files = [], {}
    for path in python_files(root):
        folder = path.relative_to(root).parts[0]
        files[folder] = files.get(folder, 0) + 1
        where = path.relative_to(root).as_posix()
        for line, module in imported_modules(path, root):
            ruled = [why for importer, bad, why in RULES if folder == importer and (module + ".").startswith(bad + ".")]
            broken += [f"{where}:{line} imports {module} ({why})" for why in ruled]
            top = module.split(".")[0]
            if folder == "kiosk" and top not in allowed_in_kiosk and not ruled:
                broken.append(f"{where}:{line} imports {module} (not a kiosk dependency in pyproject.toml)")
            if folder == "contract" and top not in STDLIB | {"numpy", "contract"} and not ruled:
                broken.append(f"{where}:{line} imports {module} (contract/ is numpy-only: every side imports it)")
    return sorted(set(broken)), files


def test_import_directions_hold_in_every_file():
    broken, files = import_violations(ROOT)
    kiosk_files = sum(1 for _ in (ROOT / "kiosk").rglob("*.py"))
    assert files["kiosk"] == kiosk_files and all(files.get(f, 0) >= 5 for f in ("contract", "training", "analysis")), (
        files
    )
    assert not broken, "\n".join(broken)


def test_the_import_check_catches_what_it_is_for(tmp_path):
    """Breakages planted in a copy of the layout (the ones that once passed every test): each is named."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    planted = {
        "kiosk/render/design.py": "import numpy\nimport torch\nimport training.train\n",
        "kiosk/ui/map_view.py": "from . import theme\n\n\ndef later():\n    from analysis import stats\n",
        "kiosk/models.py": "import importlib\nimportlib.import_module('training.export')\n",
        "analysis/stats.py": "import training.cppn_vae\nfrom kiosk.models import FashionModels\n",
        "analysis/report.py": "from kiosk.ui import theme\n",
        "training/sheet.py": "from kiosk import app\n",
        "contract/space.py": "import torch\n",
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    broken, files = import_violations(tmp_path)
    assert sum(files.values()) == len(planted)
    found = {(b.split(":")[0], b.split(" imports ")[1].split(" (")[0]) for b in broken}
    assert found == {
        ("kiosk/render/design.py", "torch"),
        ("kiosk/render/design.py", "training.train"),
        ("kiosk/ui/map_view.py", "analysis"),
        ("kiosk/ui/map_view.py", "analysis.stats"),
        ("kiosk/models.py", "training.export"),
        ("analysis/stats.py", "training.cppn_vae"),
        ("analysis/report.py", "kiosk.ui"),
        ("analysis/report.py", "kiosk.ui.theme"),
        ("training/sheet.py", "kiosk.app"),
        ("contract/space.py", "torch"),
    }, broken


def test_kiosk_runtime_never_imports_torch(root):
    """Every kiosk.* module imported in a fresh interpreter (and the shipped models loaded): none may
    pull in torch, UMAP or the training and analysis code, even indirectly."""
    code = textwrap.dedent(
        """
        import importlib, pathlib, pkgutil, sys
        import kiosk
        names = sorted(m.name for m in pkgutil.walk_packages(kiosk.__path__, "kiosk."))
        for name in names:
            importlib.import_module(name)
        from kiosk.models import FashionModels
        FashionModels.load(pathlib.Path(sys.argv[1]))
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "umap", "training", "analysis"})
        print(len(names), heavy)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(root / "onnx_models")], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    count, heavy = out.split(" ", 1)
    modules = sum(1 for _ in (root / "kiosk").rglob("*.py"))
    assert int(count) == modules - 1, f"imported {count} of the {modules} files in kiosk/ (the package itself is one)"
    assert heavy == "[]", f"the kiosk imported {heavy}"


def test_every_phony_make_target_has_a_rule():
    """`.PHONY` once named a `models` rule that did not exist."""
    text = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split()
    rules = set(re.findall(r"^([A-Za-z0-9_-]+):", text, re.M))
    assert set(phony) <= rules, set(phony) - rules


@pytest.mark.parametrize("full_install", [False, True])
def test_importorskip_fails_when_every_extra_was_installed(tmp_path, full_install):
    """`make test` installs every extra first, so there a module that will not import is a broken
    install: `pytest.importorskip` must fail the run (FSE_FULL_INSTALL=1, set by the Makefile), not skip."""
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_needs.py").write_text(
        "import pytest\nmissing = pytest.importorskip('fse_no_such_module')\n\n\ndef test_it():\n    pass\n"
    )
    (tmp_path / "test_inside.py").write_text(
        "import pytest\n\n\ndef test_it():\n    pytest.importorskip('fse_no_such_module')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FSE_FULL_INSTALL"}
    if full_install:
        env["FSE_FULL_INSTALL"] = "1"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    summary = run.stdout.strip().splitlines()[-1]
    if full_install:
        assert run.returncode != 0 and "1 failed, 1 error" in summary, run.stdout
        assert "broken install" in run.stdout
    else:
        assert run.returncode == 0 and "2 skipped" in summary, run.stdout


KIOSK_MAX_LINES = 500
"""A kiosk module a newcomer can read in one sitting; a longer one is doing more than one job (issue 22)."""


def test_no_kiosk_module_is_over_500_lines():
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in python_files(ROOT / "kiosk")
        if (lines := len(path.read_text().splitlines())) > KIOSK_MAX_LINES
    }
    assert not long, f"over {KIOSK_MAX_LINES} lines, split by job: {long}"


SESSION_MAKERS = {"kiosk/providers.py"}
"""onnxruntime sessions are made in one place: the providers, their fallbacks and options."""
SESSION_OPENERS = {
    "kiosk/providers.py": "its own command line checks a model on a provider",
    "kiosk/models.py": "FashionModels: the encoder, generator and classifier, for the kiosk and the exporter's figures",
    "kiosk/prints.py": "Prints: the print network, a model of its own",
    "training/prints/export.py": "the print graph's parity with PyTorch, right after its export",
}
SPACE_MODEL_NAMES = {
    "kiosk/models.py": "calls its sessions by the contract's names",
    "training/export.py": "names the graphs' inputs and outputs as it writes them",
}
"""Who may feed a space model by its contract names (contract.models ENCODER / GENERATOR /
CLASSIFIER .input_names, .output_names): anyone else doing it is running the models its own way."""
NOT_RUNTIME = ("tests", "benchmarks")
"""Tests open freshly exported files directly to check the files; benchmarks time raw sessions
against the kiosk's options."""


def session_violations(root: Path) -> list[str]:
    """Every place under `root` (tests and benchmarks aside) that makes an onnxruntime session, opens
    one through kiosk.providers, or calls a space model by its contract names, outside the files
    allowed to."""
    broken = []
    for path in python_files(root):
        where = path.relative_to(root).as_posix()
        if where.split("/")[0] in NOT_RUNTIME:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            called = node.func if isinstance(node, ast.Call) else None
            name = getattr(called, "attr", getattr(called, "id", None))
            if name == "InferenceSession" and where not in SESSION_MAKERS:
                broken.append(f"{where}:{node.lineno} makes an onnxruntime session (only kiosk/providers.py does)")
            if name == "create_session" and where not in SESSION_OPENERS:
                broken.append(
                    f"{where}:{node.lineno} opens a session of its own (the space models: kiosk.models.FashionModels)"
                )
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("input_names", "output_names")
                and isinstance(node.value, ast.Name)
                and node.value.id in ("ENCODER", "GENERATOR", "CLASSIFIER")
                and where not in SPACE_MODEL_NAMES
            ):
                broken.append(f"{where}:{node.lineno} runs {node.value.id} itself (use kiosk.models.FashionModels)")
    return sorted(set(broken))


def test_one_wrapper_opens_and_runs_the_space_models():
    """training/quality.py had a second wrapper of the encoder, generator and classifier
    (SpaceSessions), so the exporter's figures came from other code than the booth's."""
    assert not session_violations(ROOT), "\n".join(session_violations(ROOT))


def test_the_session_check_catches_a_second_wrapper(tmp_path):
    """The wrapper that once lived in training/quality.py, and raw sessions, planted in a copy: each is named."""
    planted = {
        "training/quality.py": (
            "import os\nfrom contract.models import CLASSIFIER, GENERATOR\nfrom kiosk.providers import create_session\n"
            "class SpaceSessions:\n    def __init__(self, d):\n"
            "        self.generator = create_session(d / GENERATOR.file, 'cpu', None, os.cpu_count())[0]\n"
            "    def logits(self, x):\n        return self.classifier.run(None, {CLASSIFIER.input_names[0]: x})[0]\n"
        ),
        "analysis/stats.py": "import onnxruntime as ort\ns = ort.InferenceSession('onnx_models/encoder.onnx')\n",
        "kiosk/ui/map_view.py": "from onnxruntime import InferenceSession\ns = InferenceSession('x.onnx')\n",
        "tests/test_space_model.py": "import onnxruntime\nonnxruntime.InferenceSession('generator.onnx')\n",
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = {(b.split(":")[0], int(b.split(":")[1].split(" ")[0])) for b in session_violations(tmp_path)}
    assert found == {
        ("training/quality.py", 6),
        ("training/quality.py", 8),
        ("analysis/stats.py", 2),
        ("kiosk/ui/map_view.py", 2),
    }, session_violations(tmp_path)
