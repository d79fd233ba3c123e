"""The landmarks the kiosk's strip offers (landmarks.json), chosen by `fse-train export` from the
encoded test set and stored as slider positions."""

from __future__ import annotations

import numpy as np

from contract.fashion_mnist import CLASS_NAMES, blend_name
from kiosk.models import FashionModels

from . import metrics, quality


def make_landmarks(
    z_test: np.ndarray,
    labels: np.ndarray,
    s: FashionModels,
    seed: int,
    per_class: int = 1000,
    n_blends: int = 4,
) -> list[dict]:
    """Each class's medoid in z of the encoded test set, then `n_blends` k-means centres of the
    whole test set named by the classifier's two most likely classes for the design found there
    (the next likely ones where that name is taken: contract.fashion_mnist.blend_name).
    Each is kept as slider positions ("z"), by the exact inverse of the latent map."""
    rng = np.random.default_rng(seed)
    points = []
    for c, name in enumerate(CLASS_NAMES):
        pts = z_test[labels == c]
        pts = pts[rng.permutation(len(pts))[:per_class]]
        points.append(({"name": name, "kind": "class-medoid", "class": c}, pts[metrics.medoid(pts)]))
    centres = kmeans(z_test, n_blends, rng)
    for centre, lg in zip(centres, s.classify(quality.on_photos_square(s, s.latent.to_sliders(centres)))):
        top = np.argsort(-lg)[:2]
        name = blend_name(lg, {lm["name"] for lm, _ in points})  # distinct: visitors pick landmarks by name
        points.append(({"name": name, "kind": "k-means-centre", "class": int(top[0])}, centre))
    return [{**lm, "z": s.latent.to_sliders(z)[0].round(4).tolist()} for lm, z in points]


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 50) -> np.ndarray:
    centres = x[rng.choice(len(x), k, replace=False)]
    for _ in range(iters):
        assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([x[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
    return centres
