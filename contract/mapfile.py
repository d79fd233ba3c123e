"""The reference map of the fashion space (`onnx_models/fashion_map.npz`), numpy only.

One map, fitted once from the shipped models by `fse-analyze fit-map` (UMAP over the encoded
training images) and shipped beside them: the kiosk's map mode draws it, and every analysis report
places its captures and trail on it, so two days or two booths line up. The file is listed in
`manifest.json` under "map" with its sha256 (`manifest_entry`), and readers check it
(`check_manifest`) before trusting it. Arrays (np.load(path) works without allow_pickle):

    format            ()          str      "fse-map"
    version           ()          int      3 (2 held slider positions in `z`: refused, rebuild)
    xy                (N, 2)      float32  map positions, scaled into [0, 1] (y up)
    z                 (N, 8)      float32  encoder.onnx's latent of each training image (not slider positions)
    label             (N,)        int16    Fashion-MNIST class index
    class_names       (10,)       str
    k                 ()          int      neighbours used by `place`
    image             (N, 28, 28) uint8    the training images (the report's hovers)
    design            (N, 28, 28) uint8    the designs generator.onnx draws at their z (hovers, kiosk)
    train_index       (N,)        int32    which Fashion-MNIST training images
    support_threshold ()          float32  z distance beyond which a point is outside the training support
    encoder_sha256    ()          str      the encoder.onnx the z came from
    generator_sha256  ()          str      the generator.onnx that drew `design`
    fit               ()          str      JSON: method, parameters, seed, data set checksum, command

Placing any z (a visitor's position, a capture, a trail point) on the map is k-nearest-neighbour
interpolation in z: the k points nearest in Euclidean distance, weighted by 1 / (distance + EPS),
average their xy. `place` below is that, in numpy (~0.2 ms per point at N = 5,000); the analysis
does the same with a KD-tree for millions of trail points.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "fse-map"
VERSION = 3
MAP_FILE = "fashion_map.npz"
MANIFEST_KEY = "map"
EPS = 1e-6
FIT_COMMAND = "fse-analyze fit-map --models onnx_models"
"""What rebuilds the map (messages name it as the fix)."""


class MapFileError(ValueError):
    """The map file is missing, unreadable, or not the one the manifest lists; the message says the fix."""


@dataclass(frozen=True)
class FashionMap:
    xy: np.ndarray  # (N, 2) float32 in [0, 1]
    z: np.ndarray  # (N, 8) float32
    label: np.ndarray  # (N,) int16
    class_names: tuple[str, ...]
    k: int
    encoder_sha256: str
    generator_sha256: str = ""
    support_threshold: float = float("inf")
    image: np.ndarray | None = None  # (N, 28, 28) uint8, None when not loaded
    design: np.ndarray | None = None  # (N, 28, 28) uint8
    train_index: np.ndarray | None = None
    fit: dict = field(default_factory=dict)

    def place(self, z: np.ndarray) -> np.ndarray:
        """(B, 8) or (8,) parameters -> (B, 2) or (2,) map positions."""
        return place(np.asarray(z, np.float32), self.z, self.xy, self.k)


def place(z: np.ndarray, ref_z: np.ndarray, ref_xy: np.ndarray, k: int) -> np.ndarray:
    """Inverse-distance-weighted mean of the xy of the k nearest ref_z (brute force, numpy only)."""
    single = z.ndim == 1
    z = np.atleast_2d(z).astype(np.float32)
    k = min(k, len(ref_z))
    d2 = ((z[:, None, :] - ref_z[None, :, :]) ** 2).sum(-1)  # (B, N)
    nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]  # (B, k)
    weights = 1.0 / (np.sqrt(np.take_along_axis(d2, nearest, 1)) + EPS)  # (B, k)
    xy = (weights[:, :, None] * ref_xy[nearest]).sum(1) / weights.sum(1, keepdims=True)
    return xy[0] if single else xy


def save_map(path: Path, fmap: FashionMap) -> None:
    """Write atomically (a reader never sees half a file). The file holds no time of writing (zip
    members are stamped 1980-01-01), so the same map gives the same bytes and the same sha256."""
    path = Path(path)
    n = len(fmap.xy)
    empty = np.zeros((n, 28, 28), np.uint8)
    temp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(
        temp,
        format=np.array(FORMAT),
        version=np.array(VERSION),
        xy=fmap.xy.astype(np.float32),
        z=fmap.z.astype(np.float32),
        label=fmap.label.astype(np.int16),
        class_names=np.array(fmap.class_names),
        k=np.array(fmap.k),
        image=empty if fmap.image is None else fmap.image.astype(np.uint8),
        design=empty if fmap.design is None else fmap.design.astype(np.uint8),
        train_index=np.full(n, -1, np.int32) if fmap.train_index is None else fmap.train_index.astype(np.int32),
        support_threshold=np.array(fmap.support_threshold, np.float32),
        encoder_sha256=np.array(fmap.encoder_sha256),
        generator_sha256=np.array(fmap.generator_sha256),
        fit=np.array(json.dumps(fmap.fit)),
    )
    temp.replace(path)


def load_map(path: Path, images: bool = True) -> FashionMap:
    """Read a map file (images=False skips the training images, which only the report shows).

    MapFileError naming the file and the fix if it is missing or isn't one this code reads.
    """
    path = Path(path)
    if not path.is_file():
        raise MapFileError(f"{path} does not exist; build the reference map with `{FIT_COMMAND}`")
    try:
        with np.load(path) as data:
            version = int(data["version"])
            if str(data["format"]) != FORMAT or version != VERSION:
                raise ValueError(f"format {data['format']} version {version}, this fse reads version {VERSION}")
            fmap = FashionMap(
                xy=data["xy"],
                z=data["z"],
                label=data["label"],
                class_names=tuple(str(c) for c in data["class_names"]),
                k=int(data["k"]),
                encoder_sha256=str(data["encoder_sha256"]),
                generator_sha256=str(data["generator_sha256"]),
                support_threshold=float(data["support_threshold"]),
                image=data["image"] if images else None,
                design=data["design"],
                train_index=data["train_index"],
                fit=json.loads(str(data["fit"])),
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        # BadZipFile / zlib.error: a file cut short (a full disk, an interrupted copy) or damaged
        raise MapFileError(
            f"{path} is damaged or not a map file this fse can read ({e}); rebuild it with `{FIT_COMMAND}`"
        ) from None
    n = len(fmap.xy)
    if (
        fmap.xy.shape != (n, 2)
        or fmap.z.shape[0] != n
        or fmap.z.ndim != 2
        or fmap.label.shape != (n,)
        or fmap.design.shape != (n, 28, 28)
        or n == 0
        or not np.isfinite(fmap.xy).all()
    ):
        raise MapFileError(
            f"{path} has unexpected shapes (xy {fmap.xy.shape}, z {fmap.z.shape}, design "
            f"{fmap.design.shape}); rebuild it with `{FIT_COMMAND}`"
        )
    return fmap


def manifest_entry(fmap: FashionMap, file_sha256: str, file_bytes: int) -> dict:
    """The map's entry in manifest.json (under MANIFEST_KEY)."""
    return {
        "file": MAP_FILE,
        "sha256": file_sha256,
        "bytes": int(file_bytes),
        "points": int(len(fmap.xy)),
        "encoder_sha256": fmap.encoder_sha256,
        "generator_sha256": fmap.generator_sha256,
        "fit": {key: fmap.fit[key] for key in ("method", "seed", "command", "test_photos") if key in fmap.fit},
    }


def check_manifest(manifest: dict, file_sha256: str, where: Path) -> None:
    """MapFileError unless manifest.json lists this very map file, made from the shipped encoder."""
    entry = manifest.get(MANIFEST_KEY)
    if not isinstance(entry, dict):
        raise MapFileError(f"{where / 'manifest.json'} lists no map file; rebuild the map with `{FIT_COMMAND}`")
    if entry.get("sha256") != file_sha256:
        raise MapFileError(
            f"{where / MAP_FILE} does not match its sha256 in manifest.json (replaced or damaged); "
            f"rebuild it with `{FIT_COMMAND}`"
        )
    encoder = manifest.get("models", {}).get("encoder", {}).get("sha256")
    if entry.get("encoder_sha256") != encoder:
        raise MapFileError(
            f"{where / MAP_FILE} was made with another encoder.onnx than the shipped one; "
            f"rebuild it with `{FIT_COMMAND}`"
        )
