"""Time on the report page: the bins its time filter snaps to, and the trail aggregated per bin.

The page cannot carry a million trail points, so the trail arrives aggregated per time bin: its
density cells, its classes, how much of it lies outside the training support, and which map-area
cells it visited. The page sums the selected bins; summary.json is the sum over all of them
(analysis/stats.py defines each statistic, this module only splits it by time). `panel` draws the
page's timeline (Bokeh) and the slider that sets the time range.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

BIN_WIDTHS_S = (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
"""Bin widths the time filter may use: the first that gives at most MAX_BINS bins over the log."""
MAX_BINS = 96
CLOCK_SET_AFTER = 1_704_067_200.0
"""2024-01-01 UTC. A time before it was stamped by a booth whose clock was not set (no network and no
RTC battery: it boots in 1970); this software did not exist before 2024. Such points go into their
own bin (TimeBins.unset), shown apart on the page, so the timeline keeps to the real range."""


def clock_not_set(t: np.ndarray) -> np.ndarray:
    return np.asarray(t, np.float64) < CLOCK_SET_AFTER


@dataclass(frozen=True)
class TimeBins:
    """`count` bins of `width` seconds from `start`, and one more after them (index `unset`) for the
    points whose clock was not set: per-bin arrays have count + 1 entries."""

    start: float  # unix seconds, a multiple of width
    width: int  # seconds
    count: int

    @property
    def unset(self) -> int:
        return self.count

    def index(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float64)
        index = np.clip(((t - self.start) // self.width).astype(np.int64), 0, self.count - 1)
        return np.where(clock_not_set(t), self.unset, index)

    @property
    def edges(self) -> np.ndarray:
        return self.start + self.width * np.arange(self.count + 1, dtype=np.float64)


def time_bins(times: np.ndarray) -> TimeBins:
    """Bins covering every time in `times` (unix seconds) whose clock was set, aligned to whole multiples
    of the width (UTC)."""
    times = np.asarray(times, np.float64)
    times = times[~clock_not_set(times)]
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


def trail_per_bin(bins, trail_bin, trail_xy, train_xy, trail_class, trail_outside, n_classes: int) -> dict:
    """The trail aggregated per time bin (the page sums the bins in its time range): how many points,
    of which class, how many outside the training support, and which map-area cells they visited."""
    from . import stats

    area, visits = stats.area_cells(train_xy, trail_xy)
    v_bin, v_cell, _ = sparse_counts(trail_bin, visits, stats.GRID * stats.GRID)
    n = bins.count + 1  # the last: clock not set
    return {
        "count": per_bin(trail_bin, np.zeros(len(trail_bin), np.int64), 1, n)[:, 0].tolist(),
        "classes": per_bin(trail_bin, trail_class.astype(np.int64), n_classes, n).tolist(),
        "outside": per_bin(trail_bin, trail_outside.astype(np.int64), 2, n)[:, 1].tolist(),
        "visits": {"bins": packed(v_bin, "u2"), "cells": packed(v_cell, "u4")},
        "areaCells": int(len(area)),
        "grid": f"{stats.GRID}x{stats.GRID}",
    }


def panel(bins: TimeBins, capture_bin: np.ndarray, trail_bin: np.ndarray, width: int):
    """Captures (bars) and trail points (line) per time bin, the range slider that filters the page (it
    shows the times it spans), and, when some points' clock was not set, a box to count them in or not."""
    from bokeh.models import BoxAnnotation, Checkbox, CustomJS, DatetimeRangeSlider, LinearAxis, Range1d
    from bokeh.plotting import figure

    edges_ms = bins.edges * 1000.0
    capture_counts = np.bincount(capture_bin, minlength=bins.count + 1)
    trail_counts = np.bincount(trail_bin, minlength=bins.count + 1)
    unset = (int(capture_counts[bins.unset]), int(trail_counts[bins.unset]))
    capture_counts, trail_counts = capture_counts[: bins.count], trail_counts[: bins.count]
    tl = figure(
        frame_width=width,
        frame_height=64,
        x_axis_type="datetime",
        toolbar_location=None,
        name="timeline",
        x_range=Range1d(edges_ms[0], edges_ms[-1]),
        y_range=Range1d(0, max(1, int(capture_counts.max())) * 1.15),
        title=f"Per {bin_label(bins.width)}, UTC: captures (grey bars, left) and trail points (blue line, right)",
    )
    tl.title.text_font_size = "12px"
    tl.quad(
        left=edges_ms[:-1], right=edges_ms[1:], bottom=0, top=capture_counts, fill_color="#555555", line_color="white"
    )
    tl.extra_y_ranges = {"trail": Range1d(0, max(1, int(trail_counts.max())) * 1.15)}
    tl.add_layout(LinearAxis(y_range_name="trail", axis_label_text_font_size="10px"), "right")
    tl.step(x=edges_ms[:-1], y=trail_counts, mode="after", y_range_name="trail", color="#0072B2", line_width=1.5)
    tl.yaxis[0].axis_label = "captures"
    tl.yaxis[0].axis_label_text_font_size = "10px"
    tl.grid.visible = False
    tl.add_layout(
        BoxAnnotation(left=edges_ms[0], right=edges_ms[-1], fill_color="#0072B2", fill_alpha=0.08, name="time_box")
    )
    slider = DatetimeRangeSlider(
        start=edges_ms[0],
        end=edges_ms[-1],
        value=(edges_ms[0], edges_ms[-1]),
        step=bins.width * 1000,
        format="%d %b %Y" if bins.width >= 86400 else "%d %b %H:%M",
        title="Time range, UTC (drag the ends)",
        width=width,
        name="time",
    )
    slider.js_on_change("value", CustomJS(code="window.fse && window.fse.timeChanged(cb_obj.value)"))
    unset_box = Checkbox(
        label=f"and the {unset[0]:,} capture(s) and {unset[1]:,} trail point(s) whose clock was not set",
        active=True,
        visible=any(unset),
        name="clock_not_set",
    )
    unset_box.js_on_change("active", CustomJS(code="window.fse && window.fse.unsetChanged(cb_obj.active)"))
    return tl, slider, unset_box
