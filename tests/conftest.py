"""Shared fixtures: the repository root, the shipped models, a small slice of the real Fashion-MNIST."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "onnx_models"

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def shipped_models():
    from kiosk.models import FashionModels

    return FashionModels.load(MODELS)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and sheets tests keep for people to look at (ignored by git)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


# `make test` installs every extra before it runs the tests and says so (FSE_FULL_INSTALL=1): there a
# module that will not import is a broken install, and `pytest.importorskip` must fail, not skip.
FULL_INSTALL = os.environ.get("FSE_FULL_INSTALL") == "1"


def _fail_import_skip(report) -> None:
    # pytest.importorskip's reason is "could not import 'name': <the ImportError>".
    if FULL_INSTALL and report.skipped and "could not import" in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"{reason}\nEvery extra was installed for this run (FSE_FULL_INSTALL=1): this is a broken install."
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_import_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_import_skip(outcome.get_result())
