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
