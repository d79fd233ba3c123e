"""Time on the report page: the bins its time filter snaps to, and the trail aggregated per bin.

The page cannot carry a million trail points, so the trail arrives aggregated per time bin: its
density cells, its classes, how much of it lies outside the training support, and which map-area
cells it visited. The page sums the selected bins; summary.json is the sum over all of them
(analysis/stats.py defines each statistic, this module only splits it by time).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

BIN_WIDTHS_S = (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
"""Bin widths the time filter may use: the first that gives at most MAX_BINS bins over the log."""
MAX_BINS = 96


@dataclass(frozen=True)
class TimeBins:
    start: float  # unix seconds, a multiple of width
    width: int  # seconds
    count: int

    def index(self, t: np.ndarray) -> np.ndarray:
        return np.clip(((np.asarray(t, np.float64) - self.start) // self.width).astype(np.int64), 0, self.count - 1)

    @property
    def edges(self) -> np.ndarray:
        return self.start + self.width * np.arange(self.count + 1, dtype=np.float64)


def time_bins(times: np.ndarray) -> TimeBins:
    """Bins covering every time in `times` (unix seconds), aligned to whole multiples of the width (UTC)."""
    if len(times) == 0:
        return TimeBins(0.0, 3600, 1)
    first, last = float(np.min(times)), float(np.max(times))
    for width in BIN_WIDTHS_S:
        start = np.floor(first / width) * width
        count = int(np.floor((last - start) / width)) + 1
        if count <= MAX_BINS:
            break
    return TimeBins(float(start), int(width), count)


def packed(values: np.ndarray, dtype: str) -> str:
    """A typed array as base64 (little-endian) for the page: a tenth of the size of JSON numbers."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def sparse_counts(bin_index: np.ndarray, cell: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin, cell, count) for every (bin, cell) pair that occurs; cells < 0 (outside the grid) dropped."""
    keep = cell >= 0
    key = bin_index[keep].astype(np.int64) * cells + cell[keep]
    unique, counts = np.unique(key, return_counts=True)
    return (unique // cells).astype(np.uint16), (unique % cells).astype(np.uint32), counts.astype(np.uint32)


def per_bin(bin_index: np.ndarray, values: np.ndarray, n_values: int, bins: int) -> np.ndarray:
    """(bins, n_values) counts of each value per bin."""
    if len(bin_index) == 0:
        return np.zeros((bins, n_values), np.int64)
    return np.bincount(bin_index * n_values + values, minlength=bins * n_values).reshape(bins, n_values)


def bin_label(width: int) -> str:
    """'10 min', '1 h', '1 day': how the page names a bin."""
    if width % 86400 == 0:
        return f"{width // 86400} day" + ("s" if width > 86400 else "")
    if width % 3600 == 0:
        return f"{width // 3600} h"
    return f"{width // 60} min"
