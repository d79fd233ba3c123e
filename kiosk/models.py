"""The shipped models, loaded the way the kiosk needs them: checked at start-up, fast at run time.

`FashionModels.load(models_dir)` reads `manifest.json`, checks every file's sha256 and each
session's input/output names against the manifest, and raises `ModelError` (naming the file and
the fix) before the first frame, never at first use. numpy + onnxruntime only. The one wrapper of
the space models' sessions: the exporter measures its figures through it too
(`FashionModels.unverified`, training/quality.py), so they are the figures of what the booth runs.

    models = FashionModels.load(Path("onnx_models"))
    designs = models.generate(z, 512, 512)     # (B, 512, 512) in [0, 1]
    z = models.encode(canvas[None])            # (1, 8)

The kiosk's z is the 8 slider positions, each in [-1, 1]; the latent map the models were exported
with (contract.latent, prior.npz) turns them into the generator's latent and the encoder's latent
back into slider positions, so nothing else in the kiosk knows the map exists.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.fashion_mnist import CLASS_NAMES, blend_name
from contract.jumps import choose_landing
from contract.latent import LatentMap, SliderIdentity, load_latent_map
from contract.models import CLASSIFIER, ENCODER, GENERATOR, SPACE_MODELS, sha256_file
from contract.space import COORD_SCALE, LATENT_DIM, coordinates

from .providers import create_session

log = logging.getLogger(__name__)

REQUIRED = tuple(spec.name for spec in SPACE_MODELS)
IMAGE_BATCH = 1000
"""28x28 images per encoder or classifier run: the exporter encodes all 60,000 training images."""
GENERATE_BATCH_VALUES = 1 << 24
GENERATOR_VALUES_PER_PIXEL = 64
"""generate_many keeps a run's intermediates near 2^24 float32 values (64 MB): about 64 per pixel
(the generator's hidden width), so 333 designs a run at 28 px, one at 1024."""

FIX = "restore onnx_models/ from the repository (git checkout onnx_models) or re-export with `fse-train export`"


class ModelError(Exception):
    """A model file is missing, corrupt or doesn't match the manifest; the message names file and fix."""


@dataclass(frozen=True)
class Landmark:
    name: str
    kind: str  # "class-medoid" or "k-means-centre"
    z: np.ndarray  # (8,) float32


def read_manifest(models_dir: Path) -> dict:
    path = models_dir / "manifest.json"
    if not path.is_file():
        raise ModelError(f"{path} is missing: {FIX}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{path} is not a valid model manifest ({e}): {FIX}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise ModelError(f'{path} has no "models" table: {FIX}')
    for name in REQUIRED:
        _check_entry(path, name, manifest["models"].get(name))
    _check_values(path, manifest)
    return manifest


def _check_values(path: Path, manifest: dict) -> None:
    """The manifest's values FashionModels reads, each of the right type: a hand-edited manifest is a
    message naming the key, never an AttributeError at start-up."""
    latent, coordinates = manifest.get("latent", {}), manifest.get("coordinates", {})
    if not isinstance(latent, dict):
        raise ModelError(f"{path}: latent is {type(latent).__name__}, expected a table: {FIX}")
    low_high = latent.get("slider_range", (-1.0, 1.0))
    if not (
        isinstance(low_high, (list, tuple))
        and len(low_high) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in low_high)
        and low_high[0] < low_high[1]
    ):
        raise ModelError(f"{path}: latent.slider_range is {low_high!r}, expected [low, high] with low < high: {FIX}")
    classes = manifest.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"{path}: classes is {classes!r:.80}, expected a list of names: {FIX}")
    scale = coordinates.get("scale", 1.0) if isinstance(coordinates, dict) else None
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and np.isfinite(scale) and scale > 0):
        raise ModelError(f"{path}: coordinates.scale is {scale!r}, expected a positive number: {FIX}")
    for name in REQUIRED:
        entry = manifest["models"][name]
        if (
            not isinstance(entry["file"], str)
            or not entry["file"].isprintable()
            or not isinstance(entry["sha256"], str)
        ):
            raise ModelError(f"{path}: models.{name}.file and .sha256 must be text: {FIX}")


ENTRY_KEYS = ("file", "sha256", "inputs", "outputs")
"""What the kiosk reads from a model's manifest entry (the exporter writes more)."""


def _check_entry(path: Path, name: str, entry) -> None:
    """A manifest entry with every key the loader reads, so a hand-edited or truncated manifest is a
    message naming the key, never a KeyError at first use."""
    if entry is None:
        raise ModelError(f"{path} has no entry for {name} (models.{name}): {FIX}")
    if not isinstance(entry, dict):
        raise ModelError(f"{path}: models.{name} is not a table: {FIX}")
    for key in ENTRY_KEYS:
        if key not in entry:
            raise ModelError(f"{path}: models.{name} has no {key!r} key: {FIX}")
    for kind in ("inputs", "outputs"):
        for i, io in enumerate(entry[kind] if isinstance(entry[kind], list) else [None]):
            if not isinstance(io, dict) or not {"name", "shape"} <= io.keys():
                raise ModelError(f"{path}: models.{name}.{kind}[{i}] needs a name and a shape: {FIX}")


class FashionModels:
    """Encoder, CPPN generator and classifier sessions, with cached coordinate grids per resolution."""

    def __init__(
        self,
        models_dir: Path,
        manifest: dict,
        sessions: dict,
        providers: dict,
        landmarks: list[Landmark],
        latent: LatentMap | SliderIdentity,
        view_scale: float | None = None,
    ):
        """view_scale: the coordinate square's half-width the designs render on; the manifest's
        coordinates.scale unless given (the exporter's, before it writes the manifest)."""
        self.models_dir = models_dir
        self.latent = latent
        self.manifest = manifest
        self.sessions = sessions
        self.providers = providers  # model name -> active provider (for diagnostics)
        self.landmarks = landmarks
        latent = manifest.get("latent", {})
        self.slider_range = tuple(latent.get("slider_range", (-1.0, 1.0)))
        self.class_names = manifest.get("classes", [])
        self._grids: dict[tuple[int, int, float], np.ndarray] = {}
        self._grid_lock = threading.Lock()
        if view_scale is None:
            view_scale = manifest.get("coordinates", {}).get("scale", COORD_SCALE)
        self.view_scale = float(view_scale)
        self.nonfinite_events = 0

    @classmethod
    def load(
        cls,
        models_dir: Path,
        provider: str = "cpu",
        cache_dir: Path | None = None,
        intra_op_threads: int = 1,
        progress=None,
    ) -> "FashionModels":
        """`progress(fraction, text)` is called as each session loads (for the splash screen)."""
        models_dir = Path(models_dir)
        manifest = read_manifest(models_dir)
        sessions, providers = {}, {}
        for i, spec in enumerate(SPACE_MODELS):
            name = spec.name
            if progress:
                progress(i / (len(REQUIRED) + 1), f"loading {name}")
            entry = manifest["models"][name]
            path = models_dir / entry["file"]
            if not path.is_file():
                raise ModelError(f"{path} is missing: {FIX}")
            if sha256_file(path) != entry["sha256"]:
                raise ModelError(f"{path} does not match its sha256 in manifest.json (corrupt or replaced): {FIX}")
            try:
                session, active = create_session(path, provider, cache_dir, intra_op_threads)
            except Exception as e:  # onnxruntime raises its own types for unreadable graphs
                raise ModelError(f"{path} could not be loaded by onnxruntime ({e}): {FIX}") from None
            _check_io(path, session, entry, spec)
            sessions[name], providers[name] = session, active
        try:
            latent = load_latent_map(models_dir, manifest)
        except (ValueError, OSError, KeyError) as e:
            raise ModelError(f"the latent map could not be loaded ({e}): {FIX}") from None
        models = cls(models_dir, manifest, sessions, providers, _load_landmarks(models_dir / "landmarks.json"), latent)
        models.landmarks = models.distinct_landmarks(models.landmarks)
        if progress:
            progress(1.0, "models ready")
        return models

    def distinct_landmarks(self, landmarks: list[Landmark]) -> list[Landmark]:
        """Landmarks with distinct names: a landmarks.json from an exporter before
        contract.fashion_mnist.blend_name could name two blends alike ("Shirt / Coat" twice); the
        later ones are named again by the same rule, from the classifier's view of their design."""
        out, taken = [], set()
        for lm in landmarks:
            if lm.name in taken:
                logits = self.classify(self.generate(lm.z, 28))[0]
                names = self.class_names or CLASS_NAMES
                name = blend_name(logits, taken, names)
                log.warning("landmarks.json names two landmarks %r; showing the second as %r", lm.name, name)
                lm = Landmark(name, lm.kind, lm.z)
            taken.add(lm.name)
            out.append(lm)
        return out

    @classmethod
    def unverified(
        cls, models_dir: Path, latent: LatentMap | None = None, view_scale: float | None = None
    ) -> "FashionModels":
        """The encoder, generator and classifier of a folder whose manifest may not be written yet:
        the exporter measures the files it has just written (training/quality.py), then writes their
        manifest, so it passes the latent map and the view's scale it will write there. Without them
        they are the folder's manifest's (a re-measured folder), else the identity map and the
        training square. No checksums, no landmarks; CPU sessions with a thread per core (an
        offline job, not the booth)."""
        models_dir = Path(models_dir)
        sessions = {
            spec.name: create_session(models_dir / spec.file, "cpu", None, os.cpu_count() or 1)[0]
            for spec in SPACE_MODELS
        }
        written = models_dir / "manifest.json"
        manifest = json.loads(written.read_text()) if written.is_file() else {"classes": list(CLASS_NAMES)}
        if latent is None:
            latent = load_latent_map(models_dir, manifest) if written.is_file() else SliderIdentity()
        return cls(models_dir, manifest, sessions, {name: "cpu" for name in sessions}, [], latent, view_scale)

    # -- inference ---------------------------------------------------------------------------
    def grid(self, width: int, height: int, scale: float | None = None) -> np.ndarray:
        """The coordinate grid for a resolution (on the view's square unless `scale` says otherwise),
        built once and reused."""
        key = (width, height, self.view_scale if scale is None else float(scale))
        with self._grid_lock:
            if key not in self._grids:
                self._grids[key] = coordinates(*key)
            return self._grids[key]

    def generate(
        self,
        z: np.ndarray,
        width: int,
        height: int | None = None,
        rows: slice | None = None,
        scale: float | None = None,
    ) -> np.ndarray:
        """Slider positions z (B, 8) or (8,) -> designs (B, H, W) float32 in [0, 1]; never NaN.

        rows: only these rows of the (height, width) image (kiosk.render draws the full-size
        design in bands, so a newer request can interrupt it between bands). scale: the coordinate
        square's half-width; the view's (what the booth shows) unless given (the exporter's figures
        compare designs with photos on the training square, contract.space.COORD_SCALE)."""
        u = self.sanitize(np.atleast_2d(np.asarray(z, np.float32)))
        return self.generate_z(self.latent.to_z(u), width, height, rows, scale)

    def generate_z(
        self,
        latent_z: np.ndarray,
        width: int,
        height: int | None = None,
        rows: slice | None = None,
        scale: float | None = None,
    ) -> np.ndarray:
        """The generator's own latent (B, 8) -> designs (B, H, W): `generate` without the latent map
        (the reference map's points are encoder latents, contract/mapfile.py)."""
        grid = self.grid(width, height or width, scale)
        if rows is not None:
            grid = np.ascontiguousarray(grid[rows])
        z_name, coords_name = GENERATOR.input_names
        z = np.nan_to_num(np.atleast_2d(np.asarray(latent_z, np.float32)))
        return self._finite(self.sessions[GENERATOR.name].run(None, {z_name: z, coords_name: grid})[0])

    def generate_many(self, z: np.ndarray, size: int, scale: float | None = None) -> np.ndarray:
        """z (N, 8) -> designs (N, size, size) for thousands of designs at once (the exporter's
        figures), in batches that keep the generator's intermediates near GENERATE_BATCH_VALUES."""
        latent_z = self.latent.to_z(self.sanitize(np.atleast_2d(np.asarray(z, np.float32))))
        batch = max(1, GENERATE_BATCH_VALUES // (size * size * GENERATOR_VALUES_PER_PIXEL))
        return np.concatenate(
            [self.generate_z(latent_z[i : i + batch], size, scale=scale) for i in range(0, len(z), batch)]
        )

    def encode(self, images: np.ndarray) -> np.ndarray:
        """images (B, 28, 28) in [0, 1] -> slider positions z (B, 8)."""
        return self.sanitize(self.latent.to_sliders(self.encode_z(images)))  # a NaN stays NaN for sanitize to count

    def encode_z(self, images: np.ndarray) -> np.ndarray:
        """images (B, 28, 28) in [0, 1] -> encoder.onnx's own latent (B, 8), where the classes
        cluster: the space the reference map is fitted and placed in (contract/mapfile.py)."""
        x = np.clip(np.nan_to_num(np.asarray(images, np.float32)), 0, 1).reshape(-1, 1, 28, 28)
        return _in_batches(lambda part: self.sessions[ENCODER.name].run(None, {ENCODER.input_names[0]: part})[0], x)

    def jump_landing(self, proposals: np.ndarray) -> int:
        """Which of a hyperspace jump's proposals (N, 8) it lands on: contract.jumps' rule on their 28 px designs."""
        designs = self.generate(proposals, 28)
        return choose_landing(designs, self.classify(designs))

    def classify(self, images: np.ndarray) -> np.ndarray:
        """images (B, 28, 28) -> class logits (B, 10)."""
        x = np.clip(np.asarray(images, np.float32), 0, 1).reshape(-1, 1, 28, 28)
        return _in_batches(
            lambda part: self.sessions[CLASSIFIER.name].run(None, {CLASSIFIER.input_names[0]: part})[0], x
        )

    def sanitize(self, z: np.ndarray) -> np.ndarray:
        """Clamp z into the slider range; NaN/inf become 0 (and are counted for diagnostics)."""
        if not np.isfinite(z).all():
            self.nonfinite_events += 1
            log.warning("non-finite latent replaced: %s", z)
            z = np.nan_to_num(z, nan=0.0, posinf=self.slider_range[1], neginf=self.slider_range[0])
        return np.clip(z, self.slider_range[0], self.slider_range[1]).astype(np.float32)

    def _finite(self, images: np.ndarray) -> np.ndarray:
        if not np.isfinite(images).all():
            self.nonfinite_events += 1
            log.warning("non-finite pixels from the generator replaced")
            images = np.nan_to_num(images, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(images, 0.0, 1.0)


def _in_batches(run, x: np.ndarray, batch: int = IMAGE_BATCH) -> np.ndarray:
    """run(x) for up to `batch` images at a time (the booth's calls are one image: one run)."""
    if len(x) <= batch:
        return run(x)
    return np.concatenate([run(x[i : i + batch]) for i in range(0, len(x), batch)])


def _check_io(path: Path, session, entry: dict, spec) -> None:
    """Names (and fixed dims) of the session must be what the manifest says, and the names what
    this kiosk calls the model with (contract/models.py)."""
    for kind, actual, wanted in (
        ("inputs", session.get_inputs(), spec.input_names),
        ("outputs", session.get_outputs(), spec.output_names),
    ):
        expected = entry.get(kind, [])
        if [e["name"] for e in expected] != [a.name for a in actual]:
            raise ModelError(
                f"{path}: {kind} are {[a.name for a in actual]}, manifest says {[e['name'] for e in expected]}: {FIX}"
            )
        if [a.name for a in actual] != wanted:
            raise ModelError(
                f"{path}: {kind} are {[a.name for a in actual]}, this kiosk needs {wanted} (contract/models.py): {FIX}"
            )
        for e, a in zip(expected, actual):
            for want, got in zip(e["shape"], a.shape):
                if isinstance(want, int) and isinstance(got, int) and want != got:
                    raise ModelError(f"{path}: {a.name} has shape {a.shape}, manifest says {e['shape']}: {FIX}")


def _load_landmarks(path: Path) -> list[Landmark]:
    if not path.is_file():
        raise ModelError(f"{path} is missing: {FIX}")
    try:
        items = json.loads(path.read_text())["landmarks"]
        out = [Landmark(str(d["name"]), str(d.get("kind", "")), np.asarray(d["z"], np.float32)) for d in items]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path} is not a valid landmarks file ({e}): {FIX}") from None
    for lm in out:
        if lm.z.shape != (LATENT_DIM,):
            raise ModelError(f"{path}: landmark {lm.name!r} has {lm.z.size} values, expected {LATENT_DIM}: {FIX}")
    return out
