"""The landmarks the kiosk's strip offers (landmarks.json), chosen by `fse-train export` from the
encoded test set and stored as slider positions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from contract.fashion_mnist import CLASS_NAMES, blend_name
from kiosk.models import FashionModels

from . import metrics


def make_landmarks(
    z_test: np.ndarray,
    labels: np.ndarray,
    s: FashionModels,
    seed: int,
    per_class: int = 1000,
    n_blends: int = 4,
) -> list[dict]:
    """Each class's medoid in z of the encoded test photos of that class whose design, as the kiosk
    shows it, the classifier names that class (all of the class's photos where none is), then
    `n_blends` k-means centres of the whole test set named by the classifier's two most likely
    classes for the design the kiosk shows there (the next likely ones where that name is taken:
    contract.fashion_mnist.blend_name). So the kiosk's "looks like" agrees with the landmark's name.
    Each is kept as slider positions ("z"), by the exact inverse of the latent map."""
    rng = np.random.default_rng(seed)
    points = []
    for c, name in enumerate(CLASS_NAMES):
        pts = z_test[labels == c]
        pts = pts[rng.permutation(len(pts))[:per_class]]
        named = s.classify(s.generate_many(s.latent.to_sliders(pts), 28)).argmax(1) == c  # at the view's scale
        pts = pts[named] if named.any() else pts
        points.append(({"name": name, "kind": "class-medoid", "class": c}, pts[metrics.medoid(pts)]))
    centres = kmeans(z_test, n_blends, rng)
    for centre, lg in zip(centres, s.classify(s.generate_many(s.latent.to_sliders(centres), 28))):
        name = blend_name(lg, {lm["name"] for lm, _ in points})  # distinct: visitors pick landmarks by name
        points.append(({"name": name, "kind": "k-means-centre", "class": int(np.argmax(lg))}, centre))
    return [{**lm, "z": s.latent.to_sliders(z)[0].round(4).tolist()} for lm, z in points]


def write(models_dir: Path, landmarks: list[dict]) -> None:
    """landmarks.json with its rule (make_landmarks's docstring), as the exporter writes it."""
    (Path(models_dir) / "landmarks.json").write_text(
        json.dumps({"rule": make_landmarks.__doc__.strip(), "landmarks": landmarks}, indent=1) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Choose a models folder's landmarks again by the exporter's rule, from its ONNX models alone
    (no checkpoint): `python -m training.landmarks --models onnx_models`. Rewrites landmarks.json and
    its sha256 in manifest.json; the seed is the export's (manifest export command, default 7)."""
    from contract.fashion_mnist import load_split
    from contract.models import sha256_file, shipped_models_dir

    p = argparse.ArgumentParser(prog="python -m training.landmarks", description=main.__doc__)
    p.add_argument("--models", type=Path, default=shipped_models_dir())
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    s = FashionModels.unverified(args.models)
    test = load_split("test")
    landmarks = make_landmarks(s.encode_z(test.images), test.labels, s, args.seed)
    write(args.models, landmarks)
    manifest_path = args.models / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["models"]["landmarks"]["sha256"] = sha256_file(args.models / "landmarks.json")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps([lm["name"] for lm in landmarks]))
    return 0


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 50) -> np.ndarray:
    centres = x[rng.choice(len(x), k, replace=False)]
    for _ in range(iters):
        assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([x[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
    return centres


if __name__ == "__main__":
    sys.exit(main())
