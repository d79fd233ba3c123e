"""Coverage statistics: how much of the space visitors explored, and what they kept.

Definitions (also on the report page and in docs/analysis.md):
- training support: a point lies outside it when its distance in z to the nearest training point
  of the reference map exceeds the 99th percentile of training-to-training nearest-neighbour
  distances (computed once, by fse-analyze fit-map, and kept in the map file).
- map area: a GRID x GRID grid over the training points' extent on the map; the map's area is the
  cells holding at least one training point; visited = those cells with at least one trail point.
- most-captured regions: the REGIONS x REGIONS grid over the whole map, cells ranked by captures.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from contract.capture_schema import utc_text

SUPPORT_PERCENTILE = 99.0
GRID = 40
REGIONS = 8
TOP_REGIONS = 5


def support_threshold(train_z: np.ndarray) -> float:
    distance, _ = cKDTree(train_z).query(train_z, k=2)
    return float(np.percentile(distance[:, 1], SUPPORT_PERCENTILE))


def per_class(classes: np.ndarray, names: list[str]) -> dict[str, int]:
    counts = np.bincount(classes.astype(np.int64), minlength=len(names)) if len(classes) else np.zeros(len(names), int)
    return {name: int(n) for name, n in zip(names, counts)}


def cells(xy: np.ndarray, low: np.ndarray, high: np.ndarray, n: int) -> np.ndarray:
    """Index (i * n + j) of each point's cell in an n x n grid over [low, high]; -1 outside it."""
    scaled = (xy - low) / np.maximum(high - low, 1e-9)
    inside = np.all((scaled >= 0) & (scaled <= 1), axis=1)
    ij = np.minimum((scaled * n).astype(np.int64), n - 1)
    return np.where(inside, ij[:, 0] * n + ij[:, 1], -1)


def area_cells(train_xy: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the map area's cells: GRID x GRID cells over the training extent holding a training point,
    the cell of each of xy, -1 where that cell is not in the area)."""
    low, high = train_xy.min(0), train_xy.max(0)
    area = np.unique(cells(train_xy, low, high, GRID))
    where = cells(xy, low, high, GRID) if len(xy) else np.zeros(0, np.int64)
    return area, np.where(np.isin(where, area), where, -1)


def map_area_visited(train_xy: np.ndarray, trail_xy: np.ndarray) -> dict:
    area, visits = area_cells(train_xy, trail_xy)
    visited = np.unique(visits[visits >= 0])
    return {
        "grid": f"{GRID}x{GRID}",
        "map_cells": int(len(area)),
        "visited_cells": int(len(visited)),
        "fraction": round(len(visited) / max(len(area), 1), 4),
    }


def region_grid(all_xy: np.ndarray, capture_xy: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(each capture's cell in the REGIONS x REGIONS grid over the whole map, each cell's box as text)."""
    low, high = all_xy.min(0), all_xy.max(0)
    size = (high - low) / REGIONS
    boxes = []
    for cell in range(REGIONS * REGIONS):
        corner = low + size * np.array(divmod(cell, REGIONS))
        boxes.append(f"x [{corner[0]:.3f}, {corner[0] + size[0]:.3f}], y [{corner[1]:.3f}, {corner[1] + size[1]:.3f}]")
    return (cells(capture_xy, low, high, REGIONS) if len(capture_xy) else np.zeros(0, np.int64)), boxes


def captured_regions(
    capture_cells: np.ndarray, boxes: list[str], capture_classes: np.ndarray, capture_ids: list[str], names: list[str]
) -> list[dict]:
    """The TOP_REGIONS cells with most captures (ties: lower cell first), main class (ties: lower
    class index), first three captures. The page ranks the captures of its time range the same way."""
    if len(capture_cells) == 0:
        return []
    counts = np.bincount(capture_cells[capture_cells >= 0], minlength=REGIONS * REGIONS)
    regions = []
    for cell in np.argsort(-counts, kind="stable")[:TOP_REGIONS]:
        if counts[cell] == 0:
            break
        members = np.flatnonzero(capture_cells == cell)
        regions.append(
            {
                "captures": int(counts[cell]),
                "map_region": boxes[cell],
                "main_class": names[int(np.bincount(capture_classes[members]).argmax())],
                "examples": [capture_ids[m] for m in members[:3]],
            }
        )
    return regions


def session_table(sessions, capture_sessions: list[str]) -> tuple[list[dict], dict]:
    captures = {}
    for sid in capture_sessions:
        captures[sid] = captures.get(sid, 0) + 1
    rows = []
    for sid, started in sorted(sessions.started.items(), key=lambda kv: kv[1]):
        rows.append(
            {
                "session": sid,
                "booth": sessions.booth.get(sid, ""),
                "started_utc": utc_text(started),
                "duration_s": round(max(sessions.last.get(sid, started) - started, 0.0), 1),
                "captures": captures.get(sid, 0),
                "trail_points": sessions.trail_points.get(sid, 0),
            }
        )
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


def session_paths(codes: np.ndarray, trail_xy: np.ndarray, vertices: int) -> tuple[dict, float]:
    """Each session's trail (session code -> (xs, ys)), thinned evenly so all paths hold about `vertices`
    points in all; and the share of the trail kept."""
    keep = codes >= 0
    if not keep.any():
        return {}, 1.0
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]  # by session, in time within one
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    ends = np.r_[starts[1:], len(order)]
    keep_share = min(1.0, vertices / len(order))
    paths = {}
    for a, b in zip(starts, ends):
        members = order[a:b]
        n = max(2, int(round(len(members) * keep_share)))
        members = members[np.unique(np.linspace(0, len(members) - 1, min(n, len(members))).astype(int))]
        paths[int(sorted_codes[a])] = (trail_xy[members, 0], trail_xy[members, 1])
    return paths, keep_share
