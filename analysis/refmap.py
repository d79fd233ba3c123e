"""`fse-analyze fit-map`: fit the reference map once from the shipped models and ship it beside them.

    fse-analyze fit-map --models onnx_models          # ~1-2 minutes on 2 cores; seeded, reproducible

A seeded choice of POINTS Fashion-MNIST training images is encoded with encoder.onnx, their designs
drawn with generator.onnx, and UMAP (analysis/embed.py's parameters, seeded) fitted on their latent z:
the generator's own latent, where the classes cluster, not the slider positions the learned prior
spreads evenly over the cube (`placement_accuracy` on the test photos: 0.808 against 0.633 in
slider positions). Writes MODELS/fashion_map.npz (contract/mapfile.py) and its entry in
MODELS/manifest.json (sha256, the encoder and generator it was made with, the test photos' figures). Run it again after every model export: the kiosk and
the analysis refuse a map made with another encoder.

The shipped map is the reference, and a rebuild is for new models only. On one machine a rerun gives
the same file byte for byte (seeded, single-threaded UMAP; no times in the file); on another machine
UMAP's floating-point results differ (measured: positions moved by a median 0.054 of the map's width),
so rebuilding for the same models would move every report's picture for nothing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from contract.fashion_mnist import CLASS_NAMES, dataset_checksum, load_split
from contract.mapfile import MANIFEST_KEY, MAP_FILE, FashionMap, manifest_entry, save_map

from .embed import EPOCHS, MIN_DIST, NEIGHBOURS, PLACE_K, umap_fit

POINTS = 5000
"""Training images on the map: enough for every class's clusters and their neighbourhoods (k-NN
placement lands between known points), few enough for a page of hovers (~5 MB) and a fit in a minute."""
MARGIN = 0.02
"""The map's xy run over [MARGIN, 1 - MARGIN], so the kiosk's dots never sit on its frame."""
BATCH = 500
TEST_PHOTOS = 10_000
"""Fashion-MNIST test photos (all of them) that `placement_accuracy` places on a new map."""


def batched(fn, items: np.ndarray) -> np.ndarray:
    """fn over items in batches of BATCH (the ONNX sessions' sweet spot), concatenated."""
    return np.concatenate([fn(items[i : i + BATCH]) for i in range(0, len(items), BATCH)])


def placement_accuracy(fmap: FashionMap, z: np.ndarray, labels: np.ndarray) -> dict:
    """How well the map keeps the classes apart for photos it never saw, given their encoder z:
    knn_in_z: the class most common among the k nearest map points in z (what placing works in);
    knn_placed_on_map: the photo placed on the map (fmap.place, as a capture is) and the class
    most common among the k map points nearest to where it lands (what a person sees).
    k = fmap.k; a tie goes to the lower class index."""
    from scipy.spatial import cKDTree

    def vote(index: np.ndarray) -> np.ndarray:  # (B, k) map points -> (B,) most common class
        counts = np.zeros((len(index), len(fmap.class_names)), np.int64)
        np.add.at(counts, (np.arange(len(index))[:, None], fmap.label[index]), 1)
        return counts.argmax(1)

    in_z = vote(cKDTree(fmap.z).query(z, k=fmap.k)[1])
    placed = vote(cKDTree(fmap.xy).query(fmap.place(z), k=fmap.k)[1])
    return {
        "photos": int(len(z)),
        "k": int(fmap.k),
        "knn_in_z": round(float((in_z == labels).mean()), 4),
        "knn_placed_on_map": round(float((placed == labels).mean()), 4),
    }


def fit_reference(models, data: Path | None = None, points: int = POINTS, seed: int = 0, say=print) -> FashionMap:
    """The reference map from the shipped models (a kiosk.models.FashionModels)."""
    from . import stats

    start = time.perf_counter()
    train = load_split("train", data)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train.images), min(points, len(train.images)), replace=False))
    images = train.images[pick]
    z = batched(models.encode_z, images).astype(np.float32)  # the encoder's latent, not slider positions
    designs = batched(lambda b: models.generate_z(b, 28), z)
    say(f"encoded {len(pick)} training images and drew their designs ({time.perf_counter() - start:.0f} s)")
    fit_start = time.perf_counter()
    xy = umap_fit(z, seed)
    say(f"UMAP fit in {time.perf_counter() - fit_start:.0f} s")
    low, high = xy.min(0), xy.max(0)
    xy = MARGIN + (1 - 2 * MARGIN) * (xy - low) / np.maximum(high - low, 1e-9)
    manifest = models.manifest
    fmap = FashionMap(
        xy=xy.astype(np.float32),
        z=z,
        label=train.labels[pick].astype(np.int16),
        class_names=tuple(CLASS_NAMES),
        k=PLACE_K,
        encoder_sha256=manifest["models"]["encoder"]["sha256"],
        generator_sha256=manifest["models"]["generator"]["sha256"],
        support_threshold=stats.support_threshold(z),
        image=np.round(images * 255).astype(np.uint8),
        design=np.round(np.clip(designs, 0, 1) * 255).astype(np.uint8),
        train_index=pick.astype(np.int32),
        fit={
            "method": f"UMAP (umap-learn, n_neighbors {NEIGHBOURS}, min_dist {MIN_DIST}, {EPOCHS} epochs) "
            f"over encoder.onnx's z of {len(pick)} Fashion-MNIST training images",
            "points": int(len(pick)),
            "seed": seed,
            "dataset_sha256": dataset_checksum(data),
            "support_percentile": stats.SUPPORT_PERCENTILE,
            "command": "fse-analyze fit-map " + " ".join(sys.argv[2:])
            if sys.argv[1:2] == ["fit-map"]
            else "fse-analyze fit-map",
        },
    )
    test = load_split("test", data, TEST_PHOTOS)
    fmap.fit["test_photos"] = placement_accuracy(fmap, batched(models.encode_z, test.images), test.labels)
    say(f"test photos on the map: {fmap.fit['test_photos']}")
    return fmap


def write_reference(models_dir: Path, fmap: FashionMap) -> Path:
    """The map file and its manifest entry (both written atomically: temp file, then rename)."""
    from contract.models import sha256_file

    path = Path(models_dir) / MAP_FILE
    save_map(path, fmap)
    manifest_path = Path(models_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest[MANIFEST_KEY] = manifest_entry(fmap, sha256_file(path), path.stat().st_size)
    temp = manifest_path.with_name(manifest_path.name + ".part")
    temp.write_text(json.dumps(manifest, indent=1) + "\n")
    temp.replace(manifest_path)
    return path
