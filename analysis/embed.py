"""Where things lie on the 2-D map: the reference map (fitted once), and placing points on it.

The reference map is UMAP over the encoded training images' latent z, fitted once from the shipped
models (`fse-analyze fit-map`, analysis/refmap.py) and shipped as contract/mapfile.py's file. A
report reads the log's slider positions in their own latent map (`log_latents`) and places captures
and trail on the map by k-nearest-neighbour interpolation in z (the kiosk's map mode places the
visitor and the booth's captures the same way), so every day and every booth lands on the same
picture, and a million trail points cost seconds. `--refit` instead fits UMAP again on the reference's training
points plus a stated subsample of this log (the first version's behaviour): the picture then
gives visited regions room, but is not comparable with another report's.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from contract.latent import PositionSpaceError, PositionSpaces, space_codes
from contract.mapfile import EPS, FashionMap

FIT_CAPTURES = 1000
"""Captures in a --refit fit; more add little to the map's shape and cost fit time."""
FIT_TRAIL = 1000
"""Trail points in a --refit fit, so regions visitors reached beyond the training data get map room."""
NEIGHBOURS = 15
"""UMAP n_neighbors: 15 (the default) keeps the classes' local structure, as the original map did."""
MIN_DIST = 0.1
EPOCHS = 200
"""Optimisation epochs; 200 is umap-learn's own choice for large data and keeps a fit under a minute."""
PLACE_K = 5
"""Neighbours for placing points on a map (written into the map file for the kiosk)."""
TRAIL_EPS = 1.0
"""The trail is placed with scipy's approximate k-NN (each neighbour within (1 + eps) of the true
k-th distance): 5x faster in 8-D, where far-out points make exact KD-tree searches crawl; the
density cells it fills barely move. Captures are placed exactly, and the outside-the-support
flag is always exact (a bounded nearest-neighbour query)."""


@dataclass
class Embedding:
    train_xy: np.ndarray  # (T, 2)
    capture_xy: np.ndarray  # (C, 2)
    trail_xy: np.ndarray  # (N, 2)
    capture_distance: np.ndarray  # (C,) z distance to the nearest training point
    trail_distance: np.ndarray  # (N,)
    info: dict  # how the positions were made, for summary.json


@dataclass
class Latents:
    """A merged log's positions as the generator's latent z, the space the map is in."""

    capture_z: np.ndarray  # (C, 8)
    trail_z: np.ndarray  # (N, 8)
    capture_sliders: np.ndarray  # (C, 8) the shipped models' slider positions for each capture (fse-kiosk --z)
    info: dict  # per latent map: counts, the models it belongs to, the bundles (summary.json "positions")
    warnings: list[str]


def log_latents(log, spaces: PositionSpaces, old_logs: str | None = None) -> Latents:
    """The captures' and trail's slider positions, each read in the latent map its row names
    (contract.latent.PositionSpaces.to_z, as the kiosk's map mode reads them) -> latent z.

    Rows that name no map (logs from before capture-log schema 5) are read in the map of the models
    called `old_logs` ("v2.1", "current"); without it, or for a map these models cannot read,
    PositionSpaceError saying which bundles hold what, and what to give."""
    capture_codes, capture_spaces = space_codes([c.capture.space for c in log.captures])
    unnamed = None
    counts: dict = {}
    for name, rows, where in (
        *((n, int((capture_codes == i).sum()), "captures") for i, n in enumerate(capture_spaces)),
        (None, int((capture_codes < 0).sum()), "captures"),
        *((n, int((log.trail_space == i).sum()), "trail_points") for i, n in enumerate(log.space_names)),
        (None, int((log.trail_space < 0).sum()), "trail_points"),
    ):
        if rows:
            entry = counts.setdefault(name, {"captures": 0, "trail_points": 0})
            entry[where] += rows
    known = ", ".join(f"{models} ({space})" for space, models in spaces.names.items())
    for name, entry in counts.items():
        bundles = ", ".join(log.space_bundles.get(name, [])) or "?"
        held = f"{entry['captures']:,} captures and {entry['trail_points']:,} trail points"
        if name is None and old_logs is None:
            raise PositionSpaceError(
                f"{held} ({bundles}) were logged before capture logs named the latent map of their slider "
                f"positions (schema 4 and older), and a position means another design under each model "
                f"version's sliders. Say which models' kiosk wrote them: --old-logs "
                f"{' or --old-logs '.join(spaces.names.values())} (these models know: {known})"
            )
        if name is None:
            unnamed = spaces.by_name(old_logs)
        elif not spaces.knows(name):
            raise PositionSpaceError(
                f"{held} ({bundles}) are slider positions in the latent map {name}, which these models cannot "
                f"read (they know: {known}): analyse those bundles with the models that wrote them (--models)"
            )
        entry["read_as"] = spaces.names[name if name is not None else unnamed]
        entry["bundles"] = log.space_bundles.get(name, [])
    positions = np.array([c.capture.z for c in log.captures], np.float32).reshape(-1, 8)
    capture_z = spaces.to_z(positions, capture_codes, capture_spaces, unnamed)
    trail_z = spaces.to_z(log.trail_z, log.trail_space, log.space_names, unnamed)
    own = np.isin(capture_codes, [i for i, s in enumerate(capture_spaces) if s == spaces.current.space])
    capture_sliders = np.where(own[:, None], positions, spaces.current.to_sliders(capture_z)).astype(np.float32)
    said = []
    for name, entry in counts.items():
        if entry["read_as"] != "current":
            how = "name no latent map; read, as --old-logs said, in" if name is None else "were logged with"
            said.append(
                f"{entry['captures']:,} captures and {entry['trail_points']:,} trail points "
                f"({', '.join(entry['bundles'])}) {how} model {entry['read_as']}'s sliders: they are placed "
                f"through that map, and their slider positions in captures.csv are those of the shipped models"
            )
        elif name is None:
            said.append(
                f"{entry['captures']:,} captures and {entry['trail_points']:,} trail points name no latent map; "
                f"read, as --old-logs said, in the shipped models' sliders"
            )
    info = {("not named" if name is None else name): entry for name, entry in counts.items()}
    return Latents(capture_z, trail_z.astype(np.float32), capture_sliders, info, said)


def umap_fit(z: np.ndarray, seed: int) -> np.ndarray:
    """(N, 8) -> (N, 2) float32, seeded: the same z give the same map (a seeded fit runs on one thread)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba/umap chatter about threads and seeds, not the analyst's concern
        import umap  # slow to import (numba): only when a map is actually fitted

        reducer = umap.UMAP(
            n_neighbors=min(NEIGHBOURS, len(z) - 1),
            min_dist=MIN_DIST,
            n_epochs=EPOCHS,
            random_state=seed,
            init="spectral" if len(z) > 20 else "random",
        )
        return reducer.fit_transform(np.asarray(z, np.float32)).astype(np.float32)


def place_knn(
    z: np.ndarray, ref_z: np.ndarray, ref_xy: np.ndarray, k: int = PLACE_K, tree=None, eps: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """contract.mapfile.place with a KD-tree: (xy (B, 2), distance to the nearest ref_z found (B,)).

    Chunked, so a million points need tens of MB, not the k x 8 x float64 of them at once. eps > 0:
    approximate neighbours (see TRAIL_EPS).
    """
    from scipy.spatial import cKDTree

    xy, nearest = np.zeros((len(z), 2), np.float32), np.zeros(len(z), np.float32)
    if len(z) == 0:
        return xy, nearest
    tree = tree if tree is not None else cKDTree(ref_z)
    k = min(k, len(ref_z))
    for start in range(0, len(z), 200_000):
        part = slice(start, start + 200_000)
        distance, index = tree.query(z[part], k=k, eps=eps, workers=-1)
        distance, index = distance.reshape(-1, k), index.reshape(-1, k)
        weights = 1.0 / (distance + EPS)
        xy[part] = (weights[:, :, None] * ref_xy[index]).sum(1) / weights.sum(1, keepdims=True)
        nearest[part] = distance[:, 0]
    return xy, nearest


def on_reference(fmap: FashionMap, capture_z: np.ndarray, trail_z: np.ndarray) -> Embedding:
    """Captures and trail placed on the shipped reference map."""
    from scipy.spatial import cKDTree

    start = time.perf_counter()
    tree = cKDTree(fmap.z)
    capture_xy, capture_d = place_knn(capture_z, fmap.z, fmap.xy, fmap.k, tree)
    trail_xy, trail_d = place_knn(trail_z, fmap.z, fmap.xy, fmap.k, tree, eps=TRAIL_EPS)
    trail_d = exact_near_bound(tree, trail_z, trail_d, fmap.support_threshold)
    return Embedding(
        fmap.xy,
        capture_xy,
        trail_xy,
        capture_d,
        trail_d,
        info={
            "method": f"reference map (fse-analyze fit-map), captures placed by {fmap.k}-NN in z, the trail by "
            f"approximate {fmap.k}-NN (eps {TRAIL_EPS:g})",
            "reference_points": int(len(fmap.xy)),
            "knn_k": int(fmap.k),
            "reference_fit": fmap.fit,
            "seconds": {"knn_place": round(time.perf_counter() - start, 2)},
        },
    )


def exact_near_bound(tree, z: np.ndarray, approximate: np.ndarray, bound: float) -> np.ndarray:
    """Nearest distances good enough to compare with `bound` exactly, from approximate ones.

    With eps, the nearest found lies within (1 + eps) of the true nearest: a point found within the
    bound is inside, one found beyond (1 + eps) x bound is outside; only the points between get an
    exact, bounded search (inf where nothing lies within the bound)."""
    distance = approximate.astype(np.float32).copy()
    unsure = np.flatnonzero((distance > bound) & (distance <= bound * (1 + TRAIL_EPS)))
    if len(unsure):
        distance[unsure] = tree.query(z[unsure], k=1, distance_upper_bound=bound * (1 + 1e-6), workers=-1)[0]
    return distance


def _subsample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))


def refit(
    fmap: FashionMap,
    capture_z: np.ndarray,
    trail_z: np.ndarray,
    seed: int = 0,
    fit_captures: int = FIT_CAPTURES,
    fit_trail: int = FIT_TRAIL,
) -> Embedding:
    """UMAP fitted again on the reference's training points + a subsample of this log; the rest by k-NN."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    cap_fit = _subsample(len(capture_z), fit_captures, rng)
    trail_fit = _subsample(len(trail_z), fit_trail, rng)
    train_z = fmap.z
    fit_z = np.concatenate([train_z, capture_z[cap_fit], trail_z[trail_fit]]).astype(np.float32)
    start = time.perf_counter()
    fit_xy = umap_fit(fit_z, seed)
    fitted = time.perf_counter()

    t, c = len(train_z), len(cap_fit)
    tree = cKDTree(fit_z)
    capture_xy, _ = place_knn(capture_z, fit_z, fit_xy, PLACE_K, tree)
    capture_xy[cap_fit] = fit_xy[t : t + c]
    trail_xy, _ = place_knn(trail_z, fit_z, fit_xy, PLACE_K, tree)
    trail_xy[trail_fit] = fit_xy[t + c :]
    # outside the support is about the training points only, not the log's own fitted points
    train_tree = cKDTree(train_z)
    capture_d = train_tree.query(capture_z, k=1)[0].astype(np.float32) if len(capture_z) else np.zeros(0, np.float32)
    trail_d = (
        train_tree.query(trail_z, k=1, workers=-1)[0].astype(np.float32) if len(trail_z) else np.zeros(0, np.float32)
    )
    return Embedding(
        fit_xy[:t],
        capture_xy,
        trail_xy,
        capture_d,
        trail_d,
        info={
            "method": "--refit: UMAP fitted on the reference's training points and a subsample of this log",
            "training": int(t),
            "captures": int(c),
            "trail": int(len(trail_fit)),
            "placed_by_knn": int(len(capture_z) - c + len(trail_z) - len(trail_fit)),
            "knn_k": PLACE_K,
            "seed": seed,
            "seconds": {"umap_fit": round(fitted - start, 2), "knn_place": round(time.perf_counter() - fitted, 2)},
        },
    )
