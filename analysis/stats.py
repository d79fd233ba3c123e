"""Coverage statistics: how much of the space visitors explored, and what they kept.

Definitions (also on the report page and in docs/analysis.md):
- training support: a point lies outside it when its distance in z to the nearest training point
  exceeds the 99th percentile of training-to-training nearest-neighbour distances.
- map area: a GRID x GRID grid over the training points' extent on the map; the map's area is the
  cells holding at least one training point; visited = those cells with at least one trail point.
- most-captured regions: the REGIONS x REGIONS grid over the whole map, cells ranked by captures.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

SUPPORT_PERCENTILE = 99.0
GRID = 40
REGIONS = 8
TOP_REGIONS = 5


def support_threshold(train_z: np.ndarray) -> float:
    distance, _ = cKDTree(train_z).query(train_z, k=2)
    return float(np.percentile(distance[:, 1], SUPPORT_PERCENTILE))


def outside_support(z: np.ndarray, train_z: np.ndarray, threshold: float) -> np.ndarray:
    if len(z) == 0:
        return np.zeros(0, bool)
    distance, _ = cKDTree(train_z).query(z, k=1, workers=-1)
    return distance > threshold


def per_class(classes: np.ndarray, names: list[str]) -> dict[str, int]:
    counts = np.bincount(classes.astype(np.int64), minlength=len(names)) if len(classes) else np.zeros(len(names), int)
    return {name: int(n) for name, n in zip(names, counts)}


def _cells(xy: np.ndarray, low: np.ndarray, high: np.ndarray, n: int) -> np.ndarray:
    scaled = (xy - low) / np.maximum(high - low, 1e-9)
    inside = np.all((scaled >= 0) & (scaled <= 1), axis=1)
    ij = np.minimum((scaled * n).astype(np.int64), n - 1)
    return np.where(inside, ij[:, 0] * n + ij[:, 1], -1)


def map_area_visited(train_xy: np.ndarray, trail_xy: np.ndarray) -> dict:
    low, high = train_xy.min(0), train_xy.max(0)
    area = np.unique(_cells(train_xy, low, high, GRID))
    visited = np.intersect1d(area, _cells(trail_xy, low, high, GRID)) if len(trail_xy) else np.zeros(0)
    return {"grid": f"{GRID}x{GRID}", "map_cells": int(len(area)), "visited_cells": int(len(visited)),
            "fraction": round(len(visited) / max(len(area), 1), 4)}


def captured_regions(all_xy: np.ndarray, capture_xy: np.ndarray, capture_classes: np.ndarray,
                     capture_ids: list[str], names: list[str]) -> list[dict]:
    if len(capture_xy) == 0:
        return []
    low, high = all_xy.min(0), all_xy.max(0)
    cells = _cells(capture_xy, low, high, REGIONS)
    counts = np.bincount(cells[cells >= 0], minlength=REGIONS * REGIONS)
    size = (high - low) / REGIONS
    regions = []
    for cell in np.argsort(-counts, kind="stable")[:TOP_REGIONS]:
        if counts[cell] == 0:
            break
        members = np.flatnonzero(cells == cell)
        i, j = divmod(int(cell), REGIONS)
        corner = low + size * np.array([i, j])
        regions.append({
            "captures": int(counts[cell]),
            "x_range": [round(float(corner[0]), 3), round(float(corner[0] + size[0]), 3)],
            "y_range": [round(float(corner[1]), 3), round(float(corner[1] + size[1]), 3)],
            "main_class": names[int(np.bincount(capture_classes[members]).argmax())],
            "examples": [capture_ids[m] for m in members[:3]],
        })
    return regions


def session_table(sessions, capture_sessions: list[str]) -> tuple[list[dict], dict]:
    captures = {}
    for sid in capture_sessions:
        captures[sid] = captures.get(sid, 0) + 1
    rows = []
    for sid, started in sorted(sessions.started.items(), key=lambda kv: kv[1]):
        rows.append({"session": sid, "booth": sessions.booth.get(sid, ""),
                     "duration_s": round(max(sessions.last.get(sid, started) - started, 0.0), 1),
                     "captures": captures.get(sid, 0), "trail_points": sessions.trail_points.get(sid, 0)})
    durations = np.array([r["duration_s"] for r in rows]) if rows else np.zeros(0)
    per = np.array([r["captures"] for r in rows]) if rows else np.zeros(0)
    overview = {
        "sessions": len(rows),
        "median_duration_s": round(float(np.median(durations)), 1) if rows else 0.0,
        "mean_duration_s": round(float(durations.mean()), 1) if rows else 0.0,
        "longest_duration_s": round(float(durations.max()), 1) if rows else 0.0,
        "median_captures": float(np.median(per)) if rows else 0.0,
        "sessions_with_captures": int((per > 0).sum()),
    }
    return rows, overview
