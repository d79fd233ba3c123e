"""The kiosk's map file (`onnx_models/fashion_map.npz`): a 2-D map of the space without umap.

`fse-analyze --write-kiosk-map` writes it; the kiosk's map mode (`fse-kiosk --show2d`) reads it
with numpy alone. Arrays (np.load(path) works without allow_pickle):

    format         ()      str    "fse-map"
    version        ()      int    1
    xy             (N, 2)  float32  training points' map positions, scaled into [0, 1] (y up)
    z              (N, 8)  float32  their 8 parameters (encoder output)
    label          (N,)    int16    their Fashion-MNIST class index
    class_names    (10,)   str
    k              ()      int    neighbours used by `place`
    models_sha256  ()      str    sha256 of the encoder.onnx the z came from ("" if unknown)

Placing any z (a visitor's position) on the map is k-nearest-neighbour interpolation in z:
the k training points nearest in Euclidean distance, weighted by 1 / (distance + 1e-6), average
their xy. That is what `place` below does; at N = 3,000 it costs ~0.1 ms per point in numpy.
The analysis places trail points the same way, so the kiosk's map and the report agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "fse-map"
VERSION = 1
EPS = 1e-6


@dataclass(frozen=True)
class FashionMap:
    xy: np.ndarray          # (N, 2) float32 in [0, 1]
    z: np.ndarray           # (N, 8) float32
    label: np.ndarray       # (N,) int16
    class_names: tuple[str, ...]
    k: int
    models_sha256: str

    def place(self, z: np.ndarray) -> np.ndarray:
        """(B, 8) or (8,) parameters -> (B, 2) or (2,) map positions."""
        return place(np.asarray(z, np.float32), self.z, self.xy, self.k)


def place(z: np.ndarray, ref_z: np.ndarray, ref_xy: np.ndarray, k: int) -> np.ndarray:
    """Inverse-distance-weighted mean of the xy of the k nearest ref_z (brute force, numpy only)."""
    single = z.ndim == 1
    z = np.atleast_2d(z).astype(np.float32)
    k = min(k, len(ref_z))
    d2 = ((z[:, None, :] - ref_z[None, :, :]) ** 2).sum(-1)                 # (B, N)
    nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]                      # (B, k)
    weights = 1.0 / (np.sqrt(np.take_along_axis(d2, nearest, 1)) + EPS)      # (B, k)
    xy = (weights[:, :, None] * ref_xy[nearest]).sum(1) / weights.sum(1, keepdims=True)
    return xy[0] if single else xy


def save_map(path: Path, fmap: FashionMap) -> None:
    path = Path(path)
    temp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(temp, format=np.array(FORMAT), version=np.array(VERSION),
                        xy=fmap.xy.astype(np.float32), z=fmap.z.astype(np.float32),
                        label=fmap.label.astype(np.int16), class_names=np.array(fmap.class_names),
                        k=np.array(fmap.k), models_sha256=np.array(fmap.models_sha256))
    temp.replace(path)


def load_map(path: Path) -> FashionMap:
    """Read a map file; ValueError naming the file and the fix if it isn't one this code reads."""
    try:
        with np.load(path) as data:
            if str(data["format"]) != FORMAT or int(data["version"]) > VERSION:
                raise ValueError(f"format {data['format']} version {data['version']}")
            return FashionMap(data["xy"], data["z"], data["label"], tuple(str(c) for c in data["class_names"]),
                              int(data["k"]), str(data["models_sha256"]))
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a map file this kiosk can read ({e}); rebuild it with "
                         f"`fse-analyze --write-kiosk-map ...` or delete it to turn the map off") from None
