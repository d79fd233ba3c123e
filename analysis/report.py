"""The report's outputs: index.html (Bokeh, self-contained), map.png (Pillow), captures.csv, summary.json.

Why Bokeh: `file_html(..., INLINE)` writes one HTML file with BokehJS inlined, so the report opens
from file:// on a machine with no network; its hover tooltips take custom HTML, so a point can show
its design as a data-URI <img>; `output_backend="webgl"` keeps tens of thousands of points
responsive, and the trail (up to millions of points) is drawn aggregated as a density image.
Plotly would inline ~3.5 MB of JS and needs custom event code for image hovers; Altair/Vega-Lite has
no WebGL and embeds every point in the spec.

The page is a plain HTML page (report.css, report.js beside this file, inlined) around one Bokeh
root (the controls, the timeline and the map): the statistics, the details panel and the legend of
what the captures are coloured by are ordinary HTML, so the page's CSS reaches them and every text
is set with textContent (booth names may hold < or &). report.js filters by time, draws the
statistics of the selected time range from the per-bin aggregates (analysis/timeline.py) and
exports selections as CSV with the columns of captures.csv.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASS_COLOURS = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#EE7733",
)
"""Paul Tol's colour-blind-safe 'muted' set plus his 'vibrant' orange: ten classes, none grey,
so no class looks like the trail's grey density."""
CATEGORY_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
    "#882255",
)
"""Colour by booth, print or how: Okabe and Ito's colour-blind-safe set first (the training points
turn pale grey then, so these need not differ from the class colours)."""
CAPTURE_COLOUR = "#000000"
SELECTED_COLOUR = "#e6007e"
"""The ring round a clicked point and a selected session's path: a colour no class uses."""
TRAIN_SIZE, CAPTURE_SIZE = 5, 11
"""Marker diameters in screen pixels on the page (they are also the hover's hit areas)."""
FRAME = (660, 600)
"""The page's map area in pixels, width x height: with the legend and the details panel it fits 1280 px."""
TRAIL_BINS = 200
"""Cells across the trail's density grid (the view, widened on the page to hold nearly all the trail)."""
VIEW_PERCENTILES = (0.5, 99.5)
"""The initial view spans these percentiles of the training points' map positions..."""
VIEW_MARGIN = 0.06
"""...plus this fraction of that span on each side."""
THUMB_PX = 200
"""The photographed design (with its print) in the page: shown small in the hover, large in the
details panel; ~8 KB each as JPEG."""
MAX_THUMBS = 3000
"""Captures beyond this get no photograph in the page (keeps index.html under ~30 MB)."""
PATH_VERTICES = 40_000
"""Session paths on the page: the trail, thinned evenly per session to this many vertices in all."""


def png_data_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, "PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def design_uri(design01: np.ndarray) -> str:
    return png_data_uri(np.round(np.clip(design01, 0, 1) * 255).astype(np.uint8))


def thumbnail_uri(image_file: Path) -> str:
    try:
        with Image.open(image_file) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB_PX, THUMB_PX))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=80)
    except OSError:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def kiosk_command(z, print_name: str) -> str:
    return "fse-kiosk --z " + ",".join(f"{v:.4f}" for v in z) + f" --print {print_name}"


# ---------------------------------------------------------------------------------------------
# The view: where the map looks first


def view_box(train_xy: np.ndarray, aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of the initial view: the training points' VIEW_PERCENTILES box plus
    VIEW_MARGIN, widened on its narrow side to width/height = aspect (so the map isn't stretched).

    UMAP puts a few points (odd captures, the odd training image) far from everything else; a view
    fitted to the extremes would shrink the classes' clusters to a corner.
    """
    low, high = np.percentile(train_xy, VIEW_PERCENTILES, axis=0)
    span = np.maximum(high - low, 1e-9) * (1 + 2 * VIEW_MARGIN)
    centre = (low + high) / 2
    width = max(span[0], span[1] * aspect)
    half = np.array([width, width / aspect]) / 2
    return centre - half, centre + half


# ---------------------------------------------------------------------------------------------
# map.png


def write_map_png(path: Path, train_xy, train_label, capture_xy, trail_xy, class_names, size: int = 1400) -> None:
    """Training points coloured by class, the trail as grey density, captures in black on top.

    The picture shows view_box(train_xy); a point outside it is drawn on the border as a small
    triangle pointing towards where it lies.
    """
    legend_w, pad = 240, 12
    image = Image.new("RGB", (size + legend_w, size), "white")
    low, high = view_box(train_xy)
    inner = size - 2 * pad

    def to_px(xy):
        scaled = (np.asarray(xy, np.float64).reshape(-1, 2) - low) / (high - low)
        return np.stack([pad + scaled[:, 0] * inner, size - pad - scaled[:, 1] * inner], axis=1)

    if len(trail_xy):
        # TRAIL_BINS cells across, as on the page: a grey you can see, not single faint pixels
        counts, _, _ = np.histogram2d(
            trail_xy[:, 1], trail_xy[:, 0], bins=TRAIL_BINS, range=[[low[1], high[1]], [low[0], high[0]]]
        )
        shade = np.log1p(counts[::-1])  # image rows run down, y runs up
        shade = (shade / max(shade.max(), 1e-9) * 160).astype(np.uint8)
        cell = np.linspace(0, TRAIL_BINS, inner, endpoint=False).astype(int)
        rgb = np.asarray(image).copy()
        rgb[pad : pad + inner, pad : pad + inner] -= shade[cell][:, cell, None]
        image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    draw.rectangle((pad, pad, pad + inner, pad + inner), outline="#bbbbbb")

    def dot(points, colours, radius, outline=None):
        px = to_px(points)
        inside = np.all((px >= pad) & (px <= pad + inner), axis=1)
        for (x, y), colour, ok in zip(px, colours, inside):
            if ok:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=outline)
            else:
                _border_arrow(draw, x, y, pad, pad + inner, colour)

    dot(train_xy, [CLASS_COLOURS[int(k) % 10] for k in train_label], 3)
    dot(capture_xy, [CAPTURE_COLOUR] * len(capture_xy), 4, outline="white")
    entries = [(name, CLASS_COLOURS[i]) for i, name in enumerate(class_names)]
    entries += [("capture", CAPTURE_COLOUR), ("trail (grey density)", "#888888")]
    for i, (name, colour) in enumerate(entries):
        y = 40 + 28 * i
        draw.ellipse((size + 10, y, size + 24, y + 14), fill=colour)
        draw.text((size + 32, y), name, fill="black")
    y = 40 + 28 * len(entries)
    draw.polygon([(size + 24, y + 7), (size + 12, y + 1), (size + 12, y + 13)], fill="#555555")
    draw.text((size + 32, y), "outside this view: on the border,", fill="black")
    draw.text((size + 32, y + 14), "pointing towards the point", fill="black")
    image.save(path)


def _border_arrow(draw: "ImageDraw.ImageDraw", x: float, y: float, lo: float, hi: float, colour) -> None:
    """A triangle on the frame [lo, hi]^2 where the segment from its centre to (x, y) leaves it."""
    c = (lo + hi) / 2
    dx, dy = x - c, y - c
    reach = (hi - lo) / 2 / max(abs(dx), abs(dy))
    bx, by = c + dx * reach, c + dy * reach
    ux, uy = np.array([dx, dy]) / np.hypot(dx, dy)
    tip, back, half = 2.0, 7.0, 4.0  # px: the tip sits on the frame, the body inside it
    draw.polygon(
        [
            (bx + ux * tip, by + uy * tip),
            (bx - ux * back - uy * half, by - uy * back + ux * half),
            (bx - ux * back + uy * half, by - uy * back - ux * half),
        ],
        fill=colour,
    )


# ---------------------------------------------------------------------------------------------
# captures.csv (and the page's CSV download: same columns, same values)


@dataclass
class CaptureTable:
    """The merged captures with what the analysis found out about them, in one order."""

    labels: list[str]  # "booth#0042"
    captures: list  # contract.capture_schema.Capture
    times: np.ndarray  # (C,) unix seconds
    image_files: list[Path]
    designs: np.ndarray  # (C, 28, 28) in [0, 1]
    classes: np.ndarray  # (C,) class index
    xy: np.ndarray  # (C, 2) map positions
    outside: np.ndarray  # (C,) bool: outside the training support
    region_cells: np.ndarray  # (C,) cell of stats.region_grid


CSV_COLUMNS = (
    "capture",
    "capture_id",  # unique across logs and booths (Capture.uid); "capture" is the short label
    "booth",
    "session",
    "utc",
    "class",
    "print",
    "how",
    *(f"z{i}" for i in range(1, 9)),
    "map_x",
    "map_y",
    "outside_support",
)


def csv_columns(table: CaptureTable, class_names) -> dict[str, list]:
    """CSV_COLUMNS -> values: what captures.csv holds and what the page's download writes."""
    c = table.captures
    columns = {
        "capture": table.labels,
        "capture_id": [x.uid for x in c],
        "booth": [x.booth_id for x in c],
        "session": [x.session_id or "" for x in c],
        "utc": [x.utc for x in c],
        "class": [class_names[int(k)] for k in table.classes],
        "print": [x.print_name for x in c],
        "how": [x.how for x in c],
        **{f"z{i + 1}": [f"{x.z[i]:.5f}" for x in c] for i in range(8)},  # text, so the page writes the same
        "map_x": [f"{v:.5f}" for v in table.xy[:, 0]],
        "map_y": [f"{v:.5f}" for v in table.xy[:, 1]],
        "outside_support": [int(v) for v in table.outside],
    }
    assert tuple(columns) == CSV_COLUMNS
    return columns


def write_captures_csv(path: Path, table: CaptureTable, class_names) -> None:
    columns = csv_columns(table, class_names)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(zip(*columns.values()))


# ---------------------------------------------------------------------------------------------
# index.html

COLOUR_BY = {"class": "Class", "booth": "Booth", "print": "Print", "how": "How it was reached"}
"""The page's colour-by choices: key -> label."""
OUTPUTS = ("index.html", "map.png", "summary.json", "captures.csv")


def remove_outputs(out: Path) -> None:
    """Delete an earlier run's report files, so a failed or empty run leaves nothing stale."""
    for name in OUTPUTS:
        (Path(out) / name).unlink(missing_ok=True)


def _category_colours(values: list[str]) -> tuple[list[str], dict[str, str]]:
    order = sorted(set(values))
    palette = {v: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, v in enumerate(order)}
    return [palette[v] for v in values], palette


def _session_paths(log, trail_xy: np.ndarray) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], float]:
    """Each session's trail (code -> (xs, ys)), thinned evenly so all paths hold about PATH_VERTICES."""
    codes = log.trail_session
    keep = codes >= 0
    if not keep.any():
        return {}, 1.0
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]  # by session, in time within one
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    ends = np.r_[starts[1:], len(order)]
    keep_share = min(1.0, PATH_VERTICES / len(order))
    paths = {}
    for a, b in zip(starts, ends):
        members = order[a:b]
        n = max(2, int(round(len(members) * keep_share)))
        members = members[np.unique(np.linspace(0, len(members) - 1, min(n, len(members))).astype(int))]
        paths[int(sorted_codes[a])] = (trail_xy[members, 0], trail_xy[members, 1])
    return paths, keep_share


def write_html(
    path: Path,
    summary: dict,
    fmap,
    embedding,
    table: CaptureTable,
    log,
    trail_class: np.ndarray,
    trail_outside: np.ndarray,
    region_boxes: list[str],
    class_names,
) -> None:
    """The interactive page: one Bokeh root (controls, timeline, map) inside plain HTML."""
    from bokeh.embed import components
    from bokeh.layouts import column, row
    from bokeh.models import (
        BoxAnnotation,
        BoxSelectTool,
        BoxZoomTool,
        CDSView,
        ColumnDataSource,
        CustomJS,
        Div,
        HoverTool,
        IndexFilter,
        LassoSelectTool,
        Legend,
        LegendItem,
        LinearAxis,
        LinearColorMapper,
        Range1d,
        RangeSlider,
        Select,
        TapTool,
    )
    from bokeh.palettes import Greys256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    from . import stats, timeline

    names = list(class_names)
    train_xy = np.asarray(embedding.train_xy, np.float64)
    trail_xy = np.asarray(embedding.trail_xy, np.float64)
    capture_xy = np.asarray(table.xy, np.float64).reshape(-1, 2)
    low, high = view_box(train_xy, FRAME[0] / FRAME[1])
    plot = figure(
        frame_width=FRAME[0],
        frame_height=FRAME[1],
        output_backend="webgl",
        name="map",
        x_range=Range1d(low[0], high[0], name="map_x"),
        y_range=Range1d(low[1], high[1], name="map_y"),
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        toolbar_location="above",
    )
    plot.select_one(BoxZoomTool).match_aspect = True
    plot.xaxis.visible = plot.yaxis.visible = False
    plot.grid.visible = False
    plot.outline_line_color = "#bbbbbb"
    items = []

    # the training designs: the reference map, one layer per class (legend order, click to fade)
    for k, name in enumerate(names):
        rows = fmap.label == k
        layer = plot.scatter(
            train_xy[rows, 0],
            train_xy[rows, 1],
            size=TRAIN_SIZE,
            color=CLASS_COLOURS[k % 10],
            alpha=0.75,
            muted_alpha=0.08,
            name=f"training {name}",
            tags=[CLASS_COLOURS[k % 10]],
        )
        items.append(LegendItem(label=name, renderers=[layer]))

    # time bins over captures and trail
    all_t = np.concatenate([table.times, log.trail_t])
    bins = timeline.time_bins(all_t)
    capture_bin = bins.index(table.times) if len(table.times) else np.zeros(0, np.int64)
    trail_bin = bins.index(log.trail_t) if len(log.trail_t) else np.zeros(0, np.int64)

    # the trail as density: TRAIL_BINS cells over the view and where nearly all the trail went
    density = None
    if len(trail_xy):
        t_low, t_high = np.percentile(trail_xy, VIEW_PERCENTILES, axis=0)
        d_low, d_high = np.minimum(low, t_low), np.maximum(high, t_high)
        cell = stats.cells(trail_xy[:, ::-1], d_low[::-1], d_high[::-1], TRAIL_BINS)  # row = y, column = x
        d_bin, d_cell, d_count = timeline.sparse_counts(trail_bin, cell, TRAIL_BINS * TRAIL_BINS)
        counts = np.bincount(d_cell, weights=d_count, minlength=TRAIL_BINS * TRAIL_BINS).reshape(TRAIL_BINS, TRAIL_BINS)
        shade = np.log1p(counts)
        mapper = LinearColorMapper(
            palette=list(reversed(Greys256))[30:],
            low=0.01,
            high=max(float(shade.max()), 0.02),
            low_color=(0, 0, 0, 0),
            name="trail_colours",
        )
        trail_source = ColumnDataSource({"image": [shade]}, name="trail_image")
        trail_image = plot.image(
            image="image",
            source=trail_source,
            x=d_low[0],
            y=d_low[1],
            dw=d_high[0] - d_low[0],
            dh=d_high[1] - d_low[1],
            color_mapper=mapper,
            global_alpha=0.6,
            name="trail",
            level="underlay",
        )
        trail_key = plot.scatter([np.nan], [np.nan], marker="square", size=12, color="#8a8a8a")
        items.append(LegendItem(label="trail (grey density)", renderers=[trail_key, trail_image]))
        density = {
            "n": TRAIL_BINS,
            "bins": timeline.packed(d_bin, "u2"),
            "cells": timeline.packed(d_cell, "u4"),
            "counts": timeline.packed(d_count, "u4"),
        }

    # sessions: each one's trail as a path
    rows, _ = stats.session_table(log.sessions, [c.session_id for c in table.captures])
    paths, path_share = _session_paths(log, trail_xy)
    code_of = {name: i for i, name in enumerate(log.session_names)}
    path_rows = [i for i, r in enumerate(rows) if code_of.get(r["session"]) in paths]
    path_source = ColumnDataSource(
        {
            "xs": [paths[code_of[rows[i]["session"]]][0] for i in path_rows],
            "ys": [paths[code_of[rows[i]["session"]]][1] for i in path_rows],
            "session": [rows[i]["session"] for i in path_rows],
            "row": path_rows,
            "duration": [f"{rows[i]['duration_s']:g} s" for i in path_rows],
            "captures": [rows[i]["captures"] for i in path_rows],
            "booth": [rows[i]["booth"] for i in path_rows],
        },
        name="path_data",
    )
    path_view = CDSView(filter=IndexFilter(list(range(len(path_rows))), name="paths_filter"))
    path_layer = plot.multi_line(
        "xs",
        "ys",
        source=path_source,
        view=path_view,
        line_color="#3b4a6b",
        line_alpha=0.1,
        line_width=1,
        muted_alpha=0.0,
        name="sessions",
        selection_line_color=SELECTED_COLOUR,
        selection_line_alpha=0.85,
        selection_line_width=2,
        nonselection_line_alpha=0.12,
        nonselection_line_color="#3b4a6b",
    )
    if path_rows:
        items.append(LegendItem(label="session paths", renderers=[path_layer]))

    # the captures: coloured by the chosen attribute, outside the training support as diamonds
    columns = csv_columns(table, names)
    colour_columns, group_columns, palettes = {}, {}, {}
    for key in COLOUR_BY:
        values = {
            "class": columns["class"],
            "booth": columns["booth"],
            "print": columns["print"],
            "how": columns["how"],
        }[key]
        if key == "class":
            colours = [CLASS_COLOURS[int(k) % 10] for k in table.classes]
            palettes[key] = {n: CLASS_COLOURS[i % 10] for i, n in enumerate(names)}
        else:
            colours, palettes[key] = _category_colours(values)
        colour_columns[f"colour_{key}"], group_columns[f"group_{key}"] = colours, values
    n_captures = len(table.labels)
    thumbs = [thumbnail_uri(f) if i < MAX_THUMBS else "" for i, f in enumerate(table.image_files)]
    designs = [design_uri(d) for d in table.designs]
    capture_source = ColumnDataSource(
        {
            "x": capture_xy[:, 0],
            "y": capture_xy[:, 1],
            "t": table.times * 1000.0,
            "marker": ["diamond" if o else "circle" for o in table.outside],
            "colour": colour_columns["colour_class"],
            **colour_columns,
            **group_columns,
            "image": thumbs,
            "design": designs,
            "class_index": [int(k) for k in table.classes],
            "region": [int(r) for r in table.region_cells],
            "command": [kiosk_command(c.z, c.print_name) for c in table.captures],
            **{f"csv_{k}": v for k, v in columns.items()},
        },
        name="capture_data",
    )
    capture_view = CDSView(filter=IndexFilter(list(range(n_captures)), name="captures_filter"))
    capture_layer = plot.scatter(
        "x",
        "y",
        source=capture_source,
        view=capture_view,
        marker="marker",
        size=CAPTURE_SIZE,
        fill_color="colour",
        line_color="#111111",
        line_width=1.2,
        muted_alpha=0.1,
        name="captures",
        selection_line_color=SELECTED_COLOUR,
        selection_line_width=2.5,
        nonselection_fill_alpha=0.35,
        nonselection_line_alpha=0.35,
    )
    items.append(LegendItem(label="captures (see colour key)", renderers=[capture_layer]))
    outside_key = plot.scatter(
        [np.nan], [np.nan], marker="diamond", size=CAPTURE_SIZE, fill_color="white", line_color="#111111"
    )
    items.append(LegendItem(label="capture outside training support", renderers=[outside_key]))
    legend = Legend(
        items=items,
        click_policy="mute",
        name="legend",
        label_text_font_size="11px",
        spacing=1,
        glyph_width=14,
        glyph_height=14,
        padding=6,
    )
    plot.add_layout(legend, "right")

    # the pointing layer: captures first, every point with the same hover columns (one tooltip)
    n_train = len(train_xy)
    train_original = [png_data_uri(im) for im in fmap.image] if fmap.image is not None else [""] * n_train
    train_design = [png_data_uri(d) for d in fmap.design]
    train_index = fmap.train_index if fmap.train_index is not None else np.arange(n_train)
    pointer_source = ColumnDataSource(
        {
            "x": np.concatenate([capture_xy[:, 0], train_xy[:, 0]]),
            "y": np.concatenate([capture_xy[:, 1], train_xy[:, 1]]),
            "size": [CAPTURE_SIZE] * n_captures + [TRAIN_SIZE] * n_train,
            "priority": [0] * n_captures + [1] * n_train,
            "left": designs + train_original,
            "left_alt": ["design"] * n_captures + ["training image"] * n_train,
            "right": thumbs + train_design,
            "right_alt": ["with print"] * n_captures + ["decoded design"] * n_train,
            "heading": [f"Capture {label}" for label in table.labels] + [names[int(k)] for k in fmap.label],
            "caption": [
                f"{columns['class'][i]}, "
                + ("no print" if columns["print"][i] == "none" else f"print {columns['print'][i]}")
                for i in range(n_captures)
            ]
            + ["training image and its decoded design"] * n_train,
            "title": [f"Capture {label}" for label in table.labels] + [f"Training image {int(i)}" for i in train_index],
            "class_name": columns["class"] + [names[int(k)] for k in fmap.label],
            "ztext": [", ".join(f"{v:.3f}" for v in c.z) for c in table.captures]
            + [", ".join(f"{v:.3f}" for v in z) for z in fmap.z],
            "command": [kiosk_command(c.z, c.print_name) for c in table.captures]
            + [kiosk_command(z, "none") for z in fmap.z],
            "capture": list(range(n_captures)) + [-1] * n_train,
        },
        name="point_data",
    )
    pointer_view = CDSView(filter=IndexFilter(list(range(n_captures + n_train)), name="points_filter"))
    pointer = plot.scatter(
        "x",
        "y",
        source=pointer_source,
        view=pointer_view,
        size="size",
        fill_alpha=0,
        line_alpha=0,
        name="points",
        selection_fill_alpha=0,
        selection_line_alpha=1,
        selection_line_color=SELECTED_COLOUR,
        selection_line_width=2.5,
        nonselection_fill_alpha=0,
        nonselection_line_alpha=0,
    )
    image_css = "width:84px;height:84px;border:1px solid #ccc"
    plot.add_tools(
        HoverTool(
            renderers=[pointer],
            limit=1,
            sort_by="priority",
            point_policy="snap_to_data",
            tooltips=f"""
        <div class="fse-hover" style="background:#fff"><img src="@left" style="{image_css};image-rendering:pixelated"
        alt="@left_alt"> <img src="@right" style="{image_css}" alt="@right_alt"><br>
        <b>@heading</b><br>@caption</div>""",
        )
    )
    # a path's session is named in a line under the map, not in a second tooltip over a capture's
    plot.add_tools(
        HoverTool(
            renderers=[path_layer],
            line_policy="interp",
            name="session_hover",
            tooltips=None,
            callback=CustomJS(code="window.fse && window.fse.pathHovered(cb_data)"),
        )
    )
    plot.add_tools(TapTool(renderers=[pointer]))
    lasso = LassoSelectTool(renderers=[capture_layer], name="lasso", continuous=False)
    box_select = BoxSelectTool(renderers=[capture_layer], name="box_select")
    plot.add_tools(lasso, box_select)

    # the timeline: captures (bars) and trail points (line) per time bin, and the range slider
    edges_ms = bins.edges * 1000.0
    capture_counts = np.bincount(capture_bin, minlength=bins.count)
    trail_counts = np.bincount(trail_bin, minlength=bins.count)
    tl = figure(
        frame_width=FRAME[0],
        frame_height=90,
        x_axis_type="datetime",
        toolbar_location=None,
        name="timeline",
        x_range=Range1d(edges_ms[0], edges_ms[-1]),
        y_range=Range1d(0, max(1, int(capture_counts.max())) * 1.15),
        title=f"Per {timeline.bin_label(bins.width)} (UTC): captures (grey bars, left axis) and "
        f"trail points (blue line, right axis)",
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
    shade_box = BoxAnnotation(
        left=edges_ms[0], right=edges_ms[-1], fill_color="#0072B2", fill_alpha=0.08, name="time_box"
    )
    tl.add_layout(shade_box)
    slider = RangeSlider(
        start=0,
        end=bins.count,
        value=(0, bins.count),
        step=1,
        title="Time range (drag the ends)",
        show_value=False,
        width=FRAME[0],
        name="time",
    )
    colour_by = Select(
        title="Colour captures by", value="class", options=list(COLOUR_BY.items()), width=200, name="colour_by"
    )
    slider.js_on_change("value", CustomJS(code="window.fse && window.fse.timeChanged(cb_obj.value)"))
    colour_by.js_on_change("value", CustomJS(code="window.fse && window.fse.colourChanged(cb_obj.value)"))
    pointer_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.pointPicked()"))
    path_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.pathPicked()"))
    capture_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.selectionChanged()"))

    layout = column(row(colour_by, Div(text="", width=20), slider), tl, plot, name="report")

    # per-bin aggregates of the trail (the page sums the selected bins)
    area, visits = stats.area_cells(train_xy, trail_xy)
    v_bin, v_cell, _ = timeline.sparse_counts(trail_bin, visits, stats.GRID * stats.GRID)
    data = {
        "classNames": names,
        "csvColumns": list(CSV_COLUMNS),
        "colourBy": COLOUR_BY,
        "palettes": palettes,
        "classColours": list(CLASS_COLOURS),
        "paleGrey": "#d9d9d9",
        "bins": {
            "start": bins.start * 1000.0,
            "width": bins.width * 1000.0,
            "count": bins.count,
            "label": timeline.bin_label(bins.width),
        },
        "trail": {
            "count": timeline.per_bin(trail_bin, np.zeros(len(trail_bin), np.int64), 1, bins.count)[:, 0].tolist(),
            "classes": timeline.per_bin(trail_bin, trail_class.astype(np.int64), len(names), bins.count).tolist(),
            "outside": timeline.per_bin(trail_bin, trail_outside.astype(np.int64), 2, bins.count)[:, 1].tolist(),
            "density": density,
            "visits": {"bins": timeline.packed(v_bin, "u2"), "cells": timeline.packed(v_cell, "u4")},
            "areaCells": int(len(area)),
            "grid": f"{stats.GRID}x{stats.GRID}",
        },
        "sessions": [
            {
                **r,
                "t0": log.sessions.started[r["session"]] * 1000.0,
                "t1": log.sessions.last.get(r["session"], log.sessions.started[r["session"]]) * 1000.0,
                "path": path_rows.index(i) if i in path_rows else -1,
            }
            for i, r in enumerate(rows)
        ],
        "regions": {"boxes": region_boxes, "top": stats.TOP_REGIONS},
        "coverage": {k: summary["coverage"][k] for k in ("support_percentile", "support_threshold")},
        "classMethod": summary["classes"]["method"],
        "booths": summary["booths"],
        "bundles": summary["bundles"],
        "skipped": summary["skipped_bundles"],
        "method": summary["embedding"]["method"],
        "pathShare": path_share,
    }
    script, div = components(layout)
    here = Path(__file__).parent
    page_data = json.dumps(data).replace("</", "<\\/")
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Fashion Space Explorer: exploration report</title>
{INLINE.render()}
<style>{(here / "report.css").read_text()}</style>
</head><body>
<header><h1>A day at the booth</h1><p id="headline"></p>
<ul id="warnings">{"".join(f"<li>{html.escape(w)}</li>" for w in summary.get("warnings", []))}</ul>
<p class="note" id="outside-view">{html.escape(outside_view_note(train_xy, capture_xy, low, high))}</p></header>
<main>
  <div id="map-column">{div}<p class="note" id="path-note">Point at a faint line on the map to see whose
  path it is; click a row of the sessions table to follow one visitor.</p></div>
  <aside id="details" aria-live="polite">
    <h2>Details</h2>
    <p class="note" id="details-empty">Click a capture or a training design on the map to see it large, with its
    parameters and the command that opens it in the kiosk. Click a row of the sessions table (below the map)
    to follow one visitor: their path and captures light up.</p>
    <div id="details-body"></div>
    <h2>Selection</h2>
    <p class="note">Use the lasso or box-select tool above the map (or pick a session) to select captures.</p>
    <p><span id="selection-count">No captures selected.</span></p>
    <p><button id="download-csv" type="button">Download selected captures (CSV)</button>
       <button id="clear-selection" type="button">Clear selection</button></p>
    <h2>Colour key</h2>
    <ul id="colour-key"></ul>
  </aside>
</main>
<section id="stats"></section>
<script type="application/json" id="fse-data">{page_data}</script>
{script}
<script>{(here / "report.js").read_text()}</script>
</body></html>
"""
    Path(path).write_text(document, encoding="utf-8")


def outside_view_note(train_xy: np.ndarray, capture_xy: np.ndarray, low: np.ndarray, high: np.ndarray) -> str:
    """Says how many points the first view leaves out, so nobody thinks they were dropped ("" if none)."""

    def outside(xy):
        return int(np.any((xy < low) | (xy > high), axis=1).sum()) if len(xy) else 0

    counts = [(outside(capture_xy), "capture"), (outside(train_xy), "training design")]
    parts = [f"{n} {what}{'s' if n > 1 else ''}" for n, what in counts if n]
    if not parts:
        return ""
    return (
        f"{' and '.join(parts)} lie outside the first view, which spans the middle 99% of the training "
        f"designs: zoom out (mouse wheel) to see them; the reset tool returns to this view."
    )


def write_nothing_yet(path: Path, summary: dict) -> None:
    """The page for an empty log: says so, and what to do, instead of an empty plot."""
    bundles = "".join(f"<li>{html.escape(b)}</li>" for b in summary["bundles"]) or "<li>(none usable)</li>"
    skipped = "".join(f"<li>{html.escape(why)}</li>" for _, why in summary["skipped_bundles"])
    css = (Path(__file__).parent / "report.css").read_text()
    Path(path).write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Fashion Space Explorer: nothing logged yet</title><style>{css}</style></head><body>
<header><h1>Nothing logged yet</h1></header>
<section id="stats">
<p id="nothing-yet">These bundles hold no captures and no trail: nobody has explored at the booth since the log began
(or the export was taken from a fresh state directory). Run the kiosk with visitors, then pull the logs again
with <code>fse-export</code>.</p>
<h3>Bundles read</h3><ul>{bundles}</ul>
{"<h3>Skipped bundles</h3><ul>" + skipped + "</ul>" if skipped else ""}
</section></body></html>
""",
        encoding="utf-8",
    )


def write_summary(path: Path, summary: dict) -> None:
    Path(path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
