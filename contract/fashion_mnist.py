"""Fashion-MNIST from the IDX (gzip) files of Debian's `dataset-fashion-mnist` (numpy only).

Training fits the models on it; the analysis fits the reference map on it (`fse-analyze fit-map`),
so the reader lives in the contract, where neither side needs the other's dependencies.

The directory comes from `--data`, else `$FSE_FASHION_MNIST`, else the Debian path. Every way a
file can be wrong ends in a `DatasetError` that names the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FSE_FASHION_MNIST"
DEBIAN_PACKAGE = "dataset-fashion-mnist"

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def blend_name(logits, taken, names=CLASS_NAMES) -> str:
    """The name of a landmark between classes: its two most likely classes ("Shirt / Coat"). When
    another landmark already has that name, the most likely class with the next ones in turn
    ("Shirt / Pullover"): visitors pick landmarks by name, so no two may share one.

    logits: the classifier's (10,) scores for the landmark's design; taken: the names used so far."""
    order = [int(i) for i in np.argsort(-np.asarray(logits, np.float64), kind="stable")]
    first = names[order[0]]
    for other in order[1:]:
        name = f"{first} / {names[other]}"
        if name not in taken:
            return name
    n = 2  # every pairing with the first class taken: only possible with more blends than classes
    while f"{first} / {n}" in taken:
        n += 1
    return f"{first} / {n}"


FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


class DatasetError(Exception):
    """A data set problem a person can fix; the message says what and how."""


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64


def data_dir(flag: str | os.PathLike | None = None) -> Path:
    """Where the IDX files live: the flag, then $FSE_FASHION_MNIST, then Debian's path."""
    path = Path(flag or os.environ.get(ENV_VAR) or DEFAULT_DIR)
    if not path.is_dir():
        raise DatasetError(
            f"Fashion-MNIST directory {path} does not exist. Install it with "
            f"`apt-get install {DEBIAN_PACKAGE}` (it lands in {DEFAULT_DIR}), or point "
            f"--data or ${ENV_VAR} at a directory holding {', '.join(FILES['train'] + FILES['test'])}."
        )
    return path


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: file is missing (reinstall `{DEBIAN_PACKAGE}` or fix --data)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a readable gzip file ({e}); the file is truncated or corrupt") from None
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(
            f"{path}: only {len(raw)} bytes after decompression, shorter than the {header}-byte IDX header"
        )
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        raise DatasetError(
            f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x}; this is not the right IDX file"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    got = len(raw) - header
    if got != expected:
        raise DatasetError(
            f"{path}: header declares dimensions {dims} = {expected} bytes of data, but the file holds {got}; "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_split(split: str, directory: str | os.PathLike | None = None, limit: int | None = None) -> Split:
    """Load 'train' or 'test'; `limit` takes the first N examples (the tests use a small slice)."""
    root = data_dir(directory)
    image_file, label_file = (root / name for name in FILES[split])
    images = _read_idx(image_file, IMAGES_MAGIC, 3)
    labels = _read_idx(label_file, LABELS_MAGIC, 1)
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{image_file}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        raise DatasetError(f"{image_file} has {len(images)} images but {label_file} has {len(labels)} labels")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DatasetError(f"{label_file}: label {labels.max()} is out of range 0-{len(CLASS_NAMES) - 1}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Split(images.astype(np.float32) / 255.0, labels.astype(np.int64))


def dataset_checksum(directory: str | os.PathLike | None = None) -> str:
    """sha256 over the four files, in a fixed order: identifies the data a model was trained on."""
    root = data_dir(directory)
    h = hashlib.sha256()
    for split in ("train", "test"):
        for name in FILES[split]:
            h.update(name.encode())
            h.update(hashlib.sha256((root / name).read_bytes()).digest())
    return h.hexdigest()
