"""Quality figures of the fashion space, measured on the 10k test set (written into the manifest)."""

from __future__ import annotations

import numpy as np
import torch

from .blur import gaussian_blur


def knn_accuracy(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, k: int = 5, chunk: int = 512
) -> float:
    """k-nearest-neighbour accuracy (Euclidean, majority vote, ties to the nearest)."""
    train_x = train_x.astype(np.float32)
    tn = (train_x**2).sum(1)
    correct = 0
    for s in range(0, len(test_x), chunk):
        q = test_x[s : s + chunk].astype(np.float32)
        d = (q**2).sum(1)[:, None] - 2 * q @ train_x.T + tn[None]  # (q, n)
        idx = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, idx, 1).argsort(1)
        votes = train_y[np.take_along_axis(idx, order, 1)]  # (q, k), nearest first
        for row, label in zip(votes, test_y[s : s + chunk]):
            counts = np.bincount(row, minlength=10)
            best = np.flatnonzero(counts == counts.max())
            pred = next(v for v in row if v in best)  # tie: nearest of the tied classes
            correct += int(pred == label)
    return correct / len(test_x)


def class_coverage(labels: np.ndarray, n_classes: int = 10) -> dict:
    """How a set of predicted labels spreads over the classes: histogram, classes >= 1%, entropy (nats)."""
    hist = np.bincount(labels, minlength=n_classes).astype(np.float64)
    p = hist / max(hist.sum(), 1)
    nz = p[p > 0]
    return {
        "histogram": hist.astype(int).tolist(),
        "fractions": [round(float(x), 4) for x in p],
        "classes_present": int((hist > 0).sum()),
        "classes_at_least_1pct": int((p >= 0.01).sum()),
        "entropy_nats": float(-(nz * np.log(nz)).sum()),
    }


def medoid(points: np.ndarray) -> int:
    """Index of the point with the smallest summed distance to the others."""
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    return int(d.sum(1).argmin())


def edge_energy(images: np.ndarray) -> float:
    """Mean |horizontal difference| + mean |vertical difference| of (N, H, W) images in [0, 1]:
    how much outline and detail they carry. A Gaussian blur of sigma 0.75 keeps about 0.63 of a photo's."""
    images = np.asarray(images, np.float32)
    return float(np.abs(np.diff(images, axis=2)).mean() + np.abs(np.diff(images, axis=1)).mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors (N, D), as in FID:
    |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_blur(torch.from_numpy(np.ascontiguousarray(images, np.float32)), sigma).numpy()


def interior_ripple(designs: np.ndarray) -> float:
    """Periodic texture inside plain garments (banding, ringing): the mean |band-pass| of the design
    inside the garment's interior. Band: detail between 1/100 and 1/14 of the image size (at 256 px,
    sigma 2.5 to 18 px), where a few Fourier bands across a garment show and a 28x28 design's own
    outlines do not; interior: the garment (> 0.5) shrunk by 1/14 of the size, so its outline is left out.
    Resolution-independent, so 256 and 1024 px renders compare. (N, S, S) renders in [0, 1]."""
    size = designs.shape[-1]
    fine = _blur(designs, size / 100)
    band = fine - _blur(designs, size / 14)
    inside = _blur((designs > 0.5).astype(np.float32), size / 28) > 0.98  # >= ~size/14 from the outline
    if not inside.any():
        return 0.0
    return float(np.abs(band[inside]).mean())
