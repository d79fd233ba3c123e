"""What `fse-train export` measures of the models it writes, and the goals it judges them by.

    measure()          the quality figures of one models folder (also of `--reference`, so both compare)
    targets()          each figure against its goal (issues 11 and 23): manifest `quality.targets`
    choose_sharpness() the generator's sharpness, chosen on training images
    reference_bce()    a reference's BCE and KL, from its own manifest

training/export.py writes the ONNX files and the manifest; the figures themselves are defined in
training/quality.py (reconstructions, jumps, ripple) and training/outline.py (outlines).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kiosk.models import FashionModels

from . import metrics, outline, quality

MIN_JUMP_ENTROPY = 2.1
SHARPNESS_CANDIDATES = (1.0, 1.25, 1.5, 1.75, 2.0)
V1_PER_PIXEL_MACS = 16_960  # the v1 generator (z as one bias per layer, no Fourier features): the cost budget's base


def choose_sharpness(export_generator, train, seed: int, n: int = 2000) -> tuple[float, list]:
    """The rule: the k in SHARPNESS_CANDIDATES whose reconstructions of `n` TRAINING images (never the
    test set the figures are measured on) the classifier recognises best; ties go to the smaller k.
    `export_generator(k)` writes generator.onnx with that k and returns the sessions."""
    idx = np.random.default_rng(seed).choice(len(train.images), n, replace=False)
    images, labels = train.images[idx], train.labels[idx]
    trials = []
    for k in SHARPNESS_CANDIDATES:
        fig = quality.reconstruction_figures(export_generator(k), images, labels)
        trials.append(
            {
                "sharpness": k,
                "classifier_on_reconstructions": fig["classifier_on_reconstructions"],
                "edge_ratio_reconstructions": round(fig["edge_ratio_reconstructions"], 4),
            }
        )
    best = max(trials, key=lambda t: (round(t["classifier_on_reconstructions"], 3), -t["sharpness"]))
    return best["sharpness"], trials


def targets(q: dict, per_pixel_macs: int) -> dict:
    """Each figure against its goal (issues 11 and 23); the ones measured against the reference models
    only when `--reference` was given."""
    rec, jumps = q["reconstruction"], q["hyperspace_jump"]
    t = {
        "classifier_on_reconstructions>=0.80": rec["classifier_on_reconstructions"] >= 0.80,
        "classifier_on_photos>=0.91": rec["classifier_on_photos"] >= 0.91,
        "edge_ratio_reconstructions>=0.80": rec["edge_ratio_reconstructions"] >= 0.80,
        "edge_ratio_jumps>=0.80": jumps["edge_ratio"] >= 0.80,
        "latent_knn5_accuracy>=0.82": q["latent_knn5_accuracy"] >= 0.82,
        "jump_all_10_classes_>=1%": jumps["classes_at_least_1pct"] == 10,
        f"jump_entropy>={MIN_JUMP_ENTROPY}": jumps["entropy_nats"] >= MIN_JUMP_ENTROPY,
        "per_pixel_macs<=1.5x_v1": per_pixel_macs <= 1.5 * V1_PER_PIXEL_MACS,
        # issue 23: every jump a garment
        "reconstruction_bce<=225": q.get("reconstruction_bce_nats", np.inf) <= 225,
        "jump_precision>=0.85": jumps["precision"] >= 0.85,
        "jump_recall>=0.65": jumps["recall"] >= 0.65,
        f"jumps_named_with_confidence>={quality.CONFIDENT}_share>=0.60": jumps[quality.CONFIDENT_KEY] >= 0.60,
        "jumps_framed_with_2%_margin>=0.99": jumps[quality.FRAMED_KEY] >= 0.99,
    }
    t.update(outline.targets(q["outline"]))
    ref = q.get("reference")
    if ref:
        t["reconstruction_bce<=reference"] = q["reconstruction_bce_nats"] <= ref["reconstruction_bce_nats"] + 0.5
        t["jump_frechet<=half_of_reference"] = (
            jumps["frechet_logits_to_photos"] <= 0.5 * ref["hyperspace_jump"]["frechet_logits_to_photos"]
        )
        for size in quality.RIPPLE_SIZES:
            key = f"interior_ripple_{size}"
            t[f"{key}<=reference"] = q["ripple"][key] <= ref["ripple"][key]
    return t


def measure(
    s: FashionModels, test, train, seed: int, knn_train: int, recon_bce: dict | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """The quality figures of one set of ONNX models (also used for `--reference`, so both compare)."""
    rng = np.random.default_rng(seed)
    subset = rng.choice(len(train.images), min(knn_train, len(train.images)), replace=False)
    z_test, z_train = s.encode_z(test.images), s.encode_z(train.images)  # where the data sits in z
    figures = quality.space_quality(s, test.images, test.labels, seed)
    q = {
        "test_images": len(test.images),
        "latent_knn5_accuracy": metrics.knn_accuracy(z_train[subset], train.labels[subset], z_test, test.labels),
        "latent_knn5_accuracy_all_60k": metrics.knn_accuracy(z_train, train.labels, z_test, test.labels),
        "knn_train_subset": int(len(subset)),
        "classifier_test_accuracy": figures["reconstruction"]["classifier_on_photos"],
        "reconstruction": figures["reconstruction"],
        "hyperspace_jump": figures["jumps"],
        "ripple": figures["ripple"],
        "outline": outline.figures(s, test.images),
    }
    if recon_bce:
        q["reconstruction_bce_nats"] = round(recon_bce["test_bce"], 3)
        q["kl_nats"] = round(recon_bce["test_kl"], 3)
    return q, z_test, z_train


def reference_bce(reference: Path) -> dict:
    """A reference's BCE and KL come from its own manifest (the PyTorch model isn't here)."""
    q = json.loads((reference / "manifest.json").read_text())["quality"]
    return {"test_bce": q["reconstruction_bce_nats"], "test_kl": q["kl_nats"]}
