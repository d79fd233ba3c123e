"""The report's interactive page, index.html: one Bokeh root (controls, timeline, map) inside plain HTML.

Why Bokeh: `components(...)` with INLINE resources gives one HTML file with BokehJS inlined, so the
report opens from file:// on a machine with no network; its hover tooltips take custom HTML, so a
point can show its design as a data-URI <img>; `output_backend="webgl"` keeps tens of thousands of
points responsive, and the trail (up to millions of points) is drawn aggregated as a density image
(docs/analysis.md says why not Plotly or Altair).

The map is built one layer at a time, bottom to top: the training designs, the trail's density, the
sessions' paths, the captures, and the invisible pointing layer that carries the hovers and clicks;
the timeline and its time filter sit above it. The HTML around it is report.html (a string.Template),
styled by report.css and driven by report.js: the statistics, the details panel and the colour key
are ordinary HTML, so the page's CSS reaches them, and report.js sets every text with textContent
(booth names may hold < or &). report.js filters by time, draws the statistics of the selected time
range from the per-bin aggregates (analysis/timeline.py) and exports selections as CSV with the
columns of captures.csv.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

from . import stats, timeline
from .report import (
    CLASS_COLOURS,
    CSV_COLUMNS,
    VIEW_PERCENTILES,
    CaptureTable,
    csv_columns,
    design_uri,
    kiosk_command,
    outside_view_note,
    png_data_uri,
    thumbnail_uri,
    view_box,
)
from .report import TRAIL_BINS as DENSITY_BINS

HERE = Path(__file__).parent

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
SELECTED_COLOUR = "#e6007e"
"""The ring round a clicked point and a selected session's path: a colour no class uses."""
TRAIN_SIZE, CAPTURE_SIZE = 5, 11
"""Marker diameters in screen pixels on the page (they are also the hover's hit areas)."""
FRAME = (660, 600)
"""The map's size in pixels as written, width x height; report.js scales it to the window."""
MAX_THUMBS = 3000
"""Captures beyond this get no photograph in the page (keeps index.html under ~30 MB)."""
PATH_VERTICES = 40_000
"""Session paths on the page: the trail, thinned evenly per session to this many vertices in all."""
COLOUR_BY = {"class": "Class", "booth": "Booth", "print": "Print", "how": "How it was reached"}
"""The page's colour-by choices: key -> label."""


@dataclass
class MapLayers:
    """What the layers hand each other and the page (the legend, the sources report.js reads)."""

    legend: list
    trail_density: dict | None = None
    path_source: object = None
    path_layer: object = None
    path_rows: list | None = None
    path_share: float = 1.0
    capture_source: object = None
    capture_layer: object = None
    palettes: dict | None = None
    pointer_source: object = None


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
    train_sliders: np.ndarray,
) -> None:
    """The interactive page: the map's layers, the timeline, and the data report.js needs, in report.html."""
    from bokeh.embed import components
    from bokeh.layouts import column, row
    from bokeh.models import CustomJS, Legend
    from bokeh.resources import INLINE

    names = list(class_names)
    train_xy = np.asarray(embedding.train_xy, np.float64)
    trail_xy = np.asarray(embedding.trail_xy, np.float64)
    capture_xy = np.asarray(table.xy, np.float64).reshape(-1, 2)
    low, high = view_box(train_xy, FRAME[0] / FRAME[1])
    bins = timeline.time_bins(np.concatenate([table.times, log.trail_t]))
    capture_bin = bins.index(table.times) if len(table.times) else np.zeros(0, np.int64)
    trail_bin = bins.index(log.trail_t) if len(log.trail_t) else np.zeros(0, np.int64)

    plot = map_figure(low, high)
    layers = MapLayers(legend=[])
    training_layer(plot, layers, fmap, train_xy, names)
    trail_layer(plot, layers, trail_xy, trail_bin, low, high)
    rows, _ = stats.session_table(log.sessions, [c.session_id for c in table.captures])
    session_layer(plot, layers, log, trail_xy, rows)
    columns = csv_columns(table, names)
    capture_layer(plot, layers, table, capture_xy, columns, names)
    pointer_layer(plot, layers, table, capture_xy, columns, fmap, train_xy, train_sliders, names)
    plot.add_layout(
        Legend(
            items=layers.legend,
            click_policy="mute",
            name="legend",
            label_text_font_size="11px",
            spacing=1,
            glyph_width=14,
            glyph_height=14,
            padding=6,
        ),
        "right",
    )
    timeline_figure, slider, unset_box = timeline.panel(bins, capture_bin, trail_bin, FRAME[0])
    colour_by = colour_by_choice()
    layers.pointer_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.pointPicked()"))
    layers.path_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.pathPicked()"))
    layers.capture_source.selected.js_on_change("indices", CustomJS(code="window.fse && window.fse.selectionChanged()"))
    layout = column(row(colour_by, column(slider, unset_box)), timeline_figure, plot, name="report")

    data = page_data(summary, layers, log, rows, bins, names)
    data["trail"] = timeline.trail_per_bin(bins, trail_bin, trail_xy, train_xy, trail_class, trail_outside, len(names))
    data["trail"]["density"] = layers.trail_density
    data["regions"] = {"boxes": region_boxes, "top": stats.TOP_REGIONS}
    script, div = components(layout)
    page = Template((HERE / "report.html").read_text()).substitute(
        title=html.escape(f"Fashion Space Explorer: {summary['title']}"),
        heading=html.escape(summary["title"]),
        bokeh=INLINE.render(),
        css=(HERE / "report.css").read_text(),
        warnings="".join(f"<li>{html.escape(w)}</li>" for w in summary.get("warnings", [])),
        outside_view=html.escape(outside_view_note(train_xy, capture_xy, low, high)),
        plot=div,
        data=json.dumps(data).replace("</", "<\\/"),
        plot_script=script,
        js=(HERE / "report.js").read_text(),
    )
    Path(path).write_text(page, encoding="utf-8")


def map_figure(low: np.ndarray, high: np.ndarray):
    """The empty map, showing the view box; the layers go on it."""
    from bokeh.models import BoxZoomTool, Range1d
    from bokeh.plotting import figure

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
    return plot


def training_layer(plot, layers: MapLayers, fmap, train_xy: np.ndarray, names: list[str]) -> None:
    """The training designs: the reference map, one layer per class (legend order, click to fade). When the
    captures are coloured by something else the designs turn grey, and the legend shows one grey entry."""
    from bokeh.models import LegendItem

    classes = []
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
        classes.append(layer)
        layers.legend.append(LegendItem(label=name, renderers=[layer], name="legend_class"))
    grey = LegendItem(label="training designs", renderers=classes, visible=False, name="legend_training")
    layers.legend.append(grey)


def trail_layer(plot, layers: MapLayers, trail_xy, trail_bin, low, high) -> None:
    """The trail as grey density: DENSITY_BINS cells over the view and where nearly all the trail went,
    its counts kept per time bin so the page can redraw it for any time range."""
    from bokeh.models import ColumnDataSource, LegendItem, LinearColorMapper
    from bokeh.palettes import Greys256

    if not len(trail_xy):
        return
    t_low, t_high = np.percentile(trail_xy, VIEW_PERCENTILES, axis=0)
    d_low, d_high = np.minimum(low, t_low), np.maximum(high, t_high)
    cell = stats.cells(trail_xy[:, ::-1], d_low[::-1], d_high[::-1], DENSITY_BINS)  # row = y, column = x
    d_bin, d_cell, d_count = timeline.sparse_counts(trail_bin, cell, DENSITY_BINS * DENSITY_BINS)
    counts = np.bincount(d_cell, weights=d_count, minlength=DENSITY_BINS * DENSITY_BINS)
    shade = np.log1p(counts.reshape(DENSITY_BINS, DENSITY_BINS))
    mapper = LinearColorMapper(
        palette=list(reversed(Greys256))[30:],
        low=0.01,
        high=max(float(shade.max()), 0.02),
        low_color=(0, 0, 0, 0),
        name="trail_colours",
    )
    image = plot.image(
        image="image",
        source=ColumnDataSource({"image": [shade]}, name="trail_image"),
        x=d_low[0],
        y=d_low[1],
        dw=d_high[0] - d_low[0],
        dh=d_high[1] - d_low[1],
        color_mapper=mapper,
        global_alpha=0.6,
        name="trail",
        level="underlay",
    )
    key = plot.scatter([np.nan], [np.nan], marker="square", size=12, color="#8a8a8a")
    layers.legend.append(LegendItem(label="trail (grey density)", renderers=[key, image]))
    layers.trail_density = {
        "n": DENSITY_BINS,
        "bins": timeline.packed(d_bin, "u2"),
        "cells": timeline.packed(d_cell, "u4"),
        "counts": timeline.packed(d_count, "u4"),
    }


def session_layer(plot, layers: MapLayers, log, trail_xy: np.ndarray, rows: list[dict]) -> None:
    """Each session's trail as a faint path; a picked one turns pink (its row in the sessions table)."""
    from bokeh.models import CDSView, ColumnDataSource, CustomJS, HoverTool, IndexFilter, LegendItem

    paths, layers.path_share = stats.session_paths(log.trail_session, trail_xy, PATH_VERTICES)
    code_of = {name: i for i, name in enumerate(log.session_names)}
    path_rows = [i for i, r in enumerate(rows) if code_of.get(r["session"]) in paths]
    layers.path_rows = path_rows
    layers.path_source = ColumnDataSource(
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
    layers.path_layer = plot.multi_line(
        "xs",
        "ys",
        source=layers.path_source,
        view=CDSView(filter=IndexFilter(list(range(len(path_rows))), name="paths_filter")),
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
        layers.legend.append(LegendItem(label="session paths", renderers=[layers.path_layer]))
    # a path's session is named in a line under the map, not in a second tooltip over a capture's
    plot.add_tools(
        HoverTool(
            renderers=[layers.path_layer],
            line_policy="interp",
            name="session_hover",
            tooltips=None,
            callback=CustomJS(code="window.fse && window.fse.pathHovered(cb_data)"),
        )
    )


def _category_colours(values: list[str]) -> tuple[list[str], dict[str, str]]:
    order = sorted(set(values))
    palette = {v: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, v in enumerate(order)}
    return [palette[v] for v in values], palette


def capture_layer(plot, layers: MapLayers, table: CaptureTable, capture_xy, columns: dict, names) -> None:
    """The captures: coloured by the chosen attribute, outside the training support as diamonds;
    the lasso and box-select tools select them."""
    from bokeh.models import (
        BoxSelectTool,
        CDSView,
        ColumnDataSource,
        IndexFilter,
        LassoSelectTool,
        LegendItem,
    )

    colour_columns, group_columns, palettes = {}, {}, {}
    for key in COLOUR_BY:
        values = columns[key]
        if key == "class":
            colours = [CLASS_COLOURS[int(k) % 10] for k in table.classes]
            palettes[key] = {n: CLASS_COLOURS[i % 10] for i, n in enumerate(names)}
        else:
            colours, palettes[key] = _category_colours(values)
        colour_columns[f"colour_{key}"], group_columns[f"group_{key}"] = colours, values
    layers.palettes = palettes
    n_captures = len(table.labels)
    layers.capture_source = ColumnDataSource(
        {
            "x": capture_xy[:, 0],
            "y": capture_xy[:, 1],
            "t": table.times * 1000.0,
            "marker": ["diamond" if o else "circle" for o in table.outside],
            "colour": colour_columns["colour_class"],
            **colour_columns,
            **group_columns,
            "image": [thumbnail_uri(f) if i < MAX_THUMBS else "" for i, f in enumerate(table.image_files)],
            "design": [design_uri(d) for d in table.designs],
            "class_index": [int(k) for k in table.classes],
            "region": [int(r) for r in table.region_cells],
            "command": [kiosk_command(u, c.print_name) for u, c in zip(table.sliders, table.captures)],
            **{f"csv_{k}": v for k, v in columns.items()},
        },
        name="capture_data",
    )
    layers.capture_layer = plot.scatter(
        "x",
        "y",
        source=layers.capture_source,
        view=CDSView(filter=IndexFilter(list(range(n_captures)), name="captures_filter")),
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
    layers.legend.append(LegendItem(label="captures (see colour key)", renderers=[layers.capture_layer]))
    outside_key = plot.scatter(
        [np.nan], [np.nan], marker="diamond", size=CAPTURE_SIZE, fill_color="white", line_color="#111111"
    )
    layers.legend.append(LegendItem(label="capture outside training support", renderers=[outside_key]))
    lasso = LassoSelectTool(renderers=[layers.capture_layer], name="lasso", continuous=False)
    plot.add_tools(lasso, BoxSelectTool(renderers=[layers.capture_layer], name="box_select"))


def pointer_layer(
    plot, layers: MapLayers, table: CaptureTable, capture_xy, columns, fmap, train_xy, train_sliders, names
) -> None:
    """The invisible layer every hover and click lands on: captures first, then the training designs,
    each with the same columns, so there is one tooltip and one details panel for both. Both show the
    slider positions (and the fse-kiosk command) that draw the design with the shipped models."""
    from bokeh.models import CDSView, ColumnDataSource, HoverTool, IndexFilter, TapTool

    n_captures, n_train = len(table.labels), len(train_xy)
    captures = layers.capture_source.data
    train_original = [png_data_uri(im) for im in fmap.image] if fmap.image is not None else [""] * n_train
    train_design = [png_data_uri(d) for d in fmap.design]
    train_index = fmap.train_index if fmap.train_index is not None else np.arange(n_train)
    layers.pointer_source = ColumnDataSource(
        {
            "x": np.concatenate([capture_xy[:, 0], train_xy[:, 0]]),
            "y": np.concatenate([capture_xy[:, 1], train_xy[:, 1]]),
            "size": [CAPTURE_SIZE] * n_captures + [TRAIN_SIZE] * n_train,
            "priority": [0] * n_captures + [1] * n_train,
            "left": captures["design"] + train_original,
            "left_alt": ["design"] * n_captures + ["training image"] * n_train,
            "right": captures["image"] + train_design,
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
            "ztext": [", ".join(f"{v:.3f}" for v in u) for u in table.sliders]
            + [", ".join(f"{v:.3f}" for v in u) for u in train_sliders],
            "command": captures["command"] + [kiosk_command(u, "none") for u in train_sliders],
            "capture": list(range(n_captures)) + [-1] * n_train,
        },
        name="point_data",
    )
    pointer = plot.scatter(
        "x",
        "y",
        source=layers.pointer_source,
        view=CDSView(filter=IndexFilter(list(range(n_captures + n_train)), name="points_filter")),
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
        ),
        TapTool(renderers=[pointer]),
    )


def colour_by_choice():
    from bokeh.models import CustomJS, Select

    choice = Select(
        title="Colour captures by", value="class", options=list(COLOUR_BY.items()), width=200, name="colour_by"
    )
    choice.js_on_change("value", CustomJS(code="window.fse && window.fse.colourChanged(cb_obj.value)"))
    return choice


def page_data(summary: dict, layers: MapLayers, log, rows: list[dict], bins: timeline.TimeBins, names) -> dict:
    """What report.js reads (the <script id="fse-data"> JSON): names, palettes, the time bins, the
    sessions and how the report was made."""
    return {
        "classNames": list(names),
        "csvColumns": list(CSV_COLUMNS),
        "colourBy": COLOUR_BY,
        "palettes": layers.palettes,
        "classColours": list(CLASS_COLOURS),
        "paleGrey": "#d9d9d9",
        "bins": {
            "clockSetAfter": timeline.CLOCK_SET_AFTER * 1000.0,
            "start": bins.start * 1000.0,
            "width": bins.width * 1000.0,
            "count": bins.count,
            "label": timeline.bin_label(bins.width),
        },
        "sessions": [
            {
                **r,
                "t0": log.sessions.started[r["session"]] * 1000.0,
                "t1": log.sessions.last.get(r["session"], log.sessions.started[r["session"]]) * 1000.0,
                "path": layers.path_rows.index(i) if i in layers.path_rows else -1,
            }
            for i, r in enumerate(rows)
        ],
        "coverage": {k: summary["coverage"][k] for k in ("support_percentile", "support_threshold")},
        "classMethod": summary["classes"]["method"],
        "booths": summary["booths"],
        "bundles": summary["bundles"],
        "skipped": summary["skipped_bundles"],
        "method": summary["embedding"]["method"],
        "pathShare": layers.path_share,
    }
