"""The models' interface: file names, input and output names, shapes and dtypes, in ONE place.

The exporter (training/export.py) builds its ONNX graphs with these names and writes them into
onnx_models/manifest.json; the kiosk (kiosk/models.py, kiosk/render/) and the analysis call the
sessions with them and check every loaded graph against them. Symbolic dimensions are names
(`batch`, `height`, `width`); fixed ones are numbers.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .space import LATENT_DIM

MODELS_FOLDER = "onnx_models"
"""What the models' folder is called, in a checkout and in each of the booth's app slots
(/opt/fse/a/onnx_models beside /opt/fse/a/venv: kiosk/update/ builds slots and bundles with it)."""


def shipped_models_dir() -> Path:
    """The shipped onnx_models/: beside the packages (a checkout), else beside the venv
    (/opt/fse/onnx_models). The one place every default (kiosk config, fse-analyze, the synthetic
    day) finds it: an installed package lives in the venv's site-packages, where no models are, and
    the appliance installer puts them next to the venv."""
    beside_packages = Path(__file__).resolve().parent.parent / "onnx_models"
    beside_venv = Path(sys.prefix).resolve().parent / "onnx_models"
    if not beside_packages.is_dir() and beside_venv.is_dir():
        return beside_venv
    return beside_packages


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple  # ints for fixed dimensions, names for dynamic ones
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the key in manifest.json "models"
    file: str  # inside onnx_models/
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    purpose: str

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict:
        """torch.onnx.export's dynamic_axes: every named dimension of every tensor."""
        return {
            t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)} for t in (*self.inputs, *self.outputs)
        }


ENCODER = ModelSpec(
    "encoder",
    "encoder.onnx",
    inputs=(Tensor("image", ("batch", 1, 28, 28)),),
    outputs=(Tensor("z", ("batch", LATENT_DIM)),),
    purpose="a 28x28 drawing in [0, 1] (1 = garment) -> the 8 parameters in (-1, 1)",
)
GENERATOR = ModelSpec(
    "generator",
    "generator.onnx",
    inputs=(Tensor("z", ("batch", LATENT_DIM)), Tensor("coords", ("height", "width", 3))),
    outputs=(Tensor("design", ("batch", "height", "width")),),
    purpose="the 8 parameters in [-1, 1] + contract.space.coordinates(width, height) -> the design in [0, 1]",
)
CLASSIFIER = ModelSpec(
    "classifier",
    "classifier.onnx",
    inputs=(Tensor("image", ("batch", 1, 28, 28)),),
    outputs=(Tensor("logits", ("batch", 10)),),
    purpose="a 28x28 design -> logits of the 10 Fashion-MNIST classes",
)
SPACE_MODELS = (ENCODER, GENERATOR, CLASSIFIER)
"""The models the kiosk cannot start without."""

PRINTS = ModelSpec(
    "prints",
    "prints.onnx",
    inputs=(Tensor("design", (1, 1, "height", "width")), Tensor("tile", ("batch", 3, "tile", "tile"))),
    outputs=(Tensor("rgb", ("batch", 3, "height", "width")), Tensor("uv", (1, 2, "height", "width"))),
    purpose="a design in [0, 1] + a print's tile in [0, 1] at the render's scale -> the design printed "
    "(the tile draped over the garment, shaded, on PRINT_BACKGROUND) and the tile coordinates it sampled",
)
PRINT_TILE_REPEATS = 4.0
"""A print's tile repeats this many times across the design's [-1, 1] coordinate square (so one
tile is 64 px of a 256 px design, 256 px of a 1024 px capture)."""
PRINT_BACKGROUND = (0.96, 0.96, 0.95)
"""The clean backdrop (RGB in [0, 1]) a printed design is shown on."""


def sha256_file(path: Path) -> str:
    """The checksum manifest.json (and an export bundle's manifest) keeps for each file it names."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
