"""The 2-D map: training images, captures and the trail embedded together with UMAP.

UMAP is fitted on a stated subsample (every training point, up to FIT_CAPTURES captures and
FIT_TRAIL trail points, seeded), so the fit costs the same for 10 or 1,000,000 trail points. Every
other point is placed by k-nearest-neighbour interpolation in z against the fitted points
(analysis.mapfile.place, here with a KD-tree): the kiosk's map places the visitor the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

FIT_CAPTURES = 1000
"""Captures in the UMAP fit; more add little to the map's shape and cost fit time."""
FIT_TRAIL = 1000
"""Trail points in the fit, so regions visitors reached beyond the training data get map room."""
NEIGHBOURS = 15
"""UMAP n_neighbors: 15 (the default) keeps the classes' local structure, as the original map did."""
MIN_DIST = 0.1
EPOCHS = 200
"""Optimisation epochs; 200 is umap-learn's own choice for large data and keeps a fit under a minute."""
PLACE_K = 5
"""Neighbours for placing non-fitted points (and in the kiosk's map file)."""


@dataclass
class Embedding:
    train_xy: np.ndarray      # (T, 2)
    capture_xy: np.ndarray    # (C, 2)
    trail_xy: np.ndarray      # (N, 2)
    fit_counts: dict          # how many of each kind the UMAP fit saw
    seconds: dict             # fit / place wall times


def _subsample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))


def place_knn(z: np.ndarray, ref_z: np.ndarray, ref_xy: np.ndarray, k: int = PLACE_K) -> np.ndarray:
    """analysis.mapfile.place, with a KD-tree so a million points take seconds, not minutes."""
    if len(z) == 0:
        return np.zeros((0, 2), np.float32)
    from scipy.spatial import cKDTree

    distance, index = cKDTree(ref_z).query(z, k=min(k, len(ref_z)), workers=-1)
    distance, index = distance.reshape(len(z), -1), index.reshape(len(z), -1)
    weights = 1.0 / (distance + 1e-6)
    return ((weights[:, :, None] * ref_xy[index]).sum(1) / weights.sum(1, keepdims=True)).astype(np.float32)


def embed(train_z: np.ndarray, capture_z: np.ndarray, trail_z: np.ndarray, seed: int = 0,
          fit_captures: int = FIT_CAPTURES, fit_trail: int = FIT_TRAIL) -> Embedding:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # numba/umap chatter about threads and seeds, not the analyst's concern
        import umap  # slow to import (numba); only when a map is actually made

    rng = np.random.default_rng(seed)
    cap_fit = _subsample(len(capture_z), fit_captures, rng)
    trail_fit = _subsample(len(trail_z), fit_trail, rng)
    fit_z = np.concatenate([train_z, capture_z[cap_fit], trail_z[trail_fit]]).astype(np.float32)

    start = time.perf_counter()
    reducer = umap.UMAP(n_neighbors=min(NEIGHBOURS, len(fit_z) - 1), min_dist=MIN_DIST, n_epochs=EPOCHS,
                        random_state=seed, init="spectral" if len(fit_z) > 20 else "random")
    with warnings.catch_warnings():
        # "n_jobs overridden by random_state": a seeded fit is single-threaded, on purpose (same map each run).
        warnings.simplefilter("ignore", UserWarning)
        fit_xy = reducer.fit_transform(fit_z).astype(np.float32)
    fitted = time.perf_counter()

    t, c = len(train_z), len(cap_fit)
    train_xy = fit_xy[:t]
    capture_xy = place_knn(capture_z, fit_z, fit_xy)
    capture_xy[cap_fit] = fit_xy[t:t + c]
    trail_xy = place_knn(trail_z, fit_z, fit_xy)
    trail_xy[trail_fit] = fit_xy[t + c:]
    placed = time.perf_counter()
    return Embedding(train_xy, capture_xy, trail_xy,
                     fit_counts={"training": int(t), "captures": int(c), "trail": int(len(trail_fit)),
                                 "placed_by_knn": int(len(capture_z) - c + len(trail_z) - len(trail_fit)),
                                 "knn_k": PLACE_K},
                     seconds={"umap_fit": round(fitted - start, 2), "knn_place": round(placed - fitted, 2)})
