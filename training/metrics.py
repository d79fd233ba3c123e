"""Quality figures of the fashion space, measured on the 10k test set (written into the manifest)."""
from __future__ import annotations

import numpy as np


def knn_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 k: int = 5, chunk: int = 512) -> float:
    """k-nearest-neighbour accuracy (Euclidean, majority vote, ties to the nearest)."""
    train_x = train_x.astype(np.float32)
    tn = (train_x ** 2).sum(1)
    correct = 0
    for s in range(0, len(test_x), chunk):
        q = test_x[s:s + chunk].astype(np.float32)
        d = (q ** 2).sum(1)[:, None] - 2 * q @ train_x.T + tn[None]   # (q, n)
        idx = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, idx, 1).argsort(1)
        votes = train_y[np.take_along_axis(idx, order, 1)]             # (q, k), nearest first
        for row, label in zip(votes, test_y[s:s + chunk]):
            counts = np.bincount(row, minlength=10)
            best = np.flatnonzero(counts == counts.max())
            pred = next(v for v in row if v in best)                   # tie: nearest of the tied classes
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
