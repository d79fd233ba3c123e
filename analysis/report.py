"""The report's outputs: map.png (Pillow), index.html (Bokeh, self-contained) and summary.json.

Why Bokeh: `file_html(..., INLINE)` writes one HTML file with BokehJS inlined, so the report opens
from file:// on a machine with no network; its hover tooltips take custom HTML, so a point can show
its design as a data-URI <img>; `output_backend="webgl"` keeps tens of thousands of points
responsive, and the trail (up to millions of points) is drawn aggregated as a density image.
Plotly would inline ~3.5 MB of JS and needs custom event code for image hovers; Altair/Vega-Lite has
no WebGL and embeds every point in the spec.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # matplotlib's tab10, as in the original map
CAPTURE_COLOUR = "#000000"
SELECTED_COLOUR = "#e6007e"
"""The ring round a clicked point: a colour no class uses."""
TRAIN_SIZE, CAPTURE_SIZE = 5, 9
"""Marker diameters in screen pixels on the page (they are also the hover's hit areas)."""
FRAME = (820, 720)
"""The page's map area in pixels, width x height."""
TRAIL_BINS = 200
"""Cells across the trail's density grid (the view, widened on the page to hold nearly all the trail)."""
VIEW_PERCENTILES = (0.5, 99.5)
"""The initial view spans these percentiles of the training points' map positions..."""
VIEW_MARGIN = 0.06
"""...plus this fraction of that span on each side."""
THUMB_PX = 96
"""Print thumbnails in the hover: big enough to see the print, ~4 KB each as JPEG."""
MAX_THUMBS = 5000
"""Captures beyond this get no print thumbnail in the page (keeps index.html under ~30 MB)."""


def png_data_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, "PNG", optimize=True)
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
        counts, _, _ = np.histogram2d(trail_xy[:, 1], trail_xy[:, 0], bins=TRAIL_BINS,
                                      range=[[low[1], high[1]], [low[0], high[0]]])
        shade = np.log1p(counts[::-1])  # image rows run down, y runs up
        shade = (shade / max(shade.max(), 1e-9) * 160).astype(np.uint8)
        cell = np.linspace(0, TRAIL_BINS, inner, endpoint=False).astype(int)
        rgb = np.asarray(image).copy()
        rgb[pad:pad + inner, pad:pad + inner] -= shade[cell][:, cell, None]
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
    draw.polygon([(bx + ux * tip, by + uy * tip),
                  (bx - ux * back - uy * half, by - uy * back + ux * half),
                  (bx - ux * back + uy * half, by - uy * back - ux * half)], fill=colour)


# ---------------------------------------------------------------------------------------------
# index.html

def _stats_html(summary: dict) -> str:
    def table(rows, headers):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table class='fse'><tr>{head}</tr>{body}</table>"

    c = summary["counts"]
    cov = summary["coverage"]
    classes = summary["classes"]
    sess = summary["sessions"]
    parts = [
        f"<p><b>{c['captures']}</b> captures and <b>{c['trail_points']:,}</b> trail points from "
        f"<b>{c['sessions']}</b> sessions at {html.escape(', '.join(summary['booths']))}; "
        f"{html.escape(summary['time_range']['first_utc'] or '')} to {html.escape(summary['time_range']['last_utc'] or '')}.</p>",
        f"<p>Captures outside the training support: <b>{cov['captures_outside_support']:.1%}</b>; "
        f"trail outside: <b>{cov['trail_outside_support']:.1%}</b> (beyond the {cov['support_percentile']:g}th "
        f"percentile of training nearest-neighbour distance in z, {cov['support_threshold']:.3f}). "
        f"Map area visited by the trail: <b>{cov['map_area']['fraction']:.1%}</b> "
        f"({cov['map_area']['visited_cells']} of {cov['map_area']['map_cells']} cells of a {cov['map_area']['grid']} grid holding training points).</p>",
        "<h3>Per class</h3>",
        table([(n, classes["captures"][n], classes["trail"][n]) for n in classes["captures"]],
              ["class", "captures", "trail points"]),
        f"<p class='note'>{html.escape(classes['method'])}</p>",
        "<h3>Most-captured regions</h3>",
        table([(i + 1, r["captures"], r["main_class"], f"x {r['x_range']}, y {r['y_range']}", ", ".join(r["examples"]))
               for i, r in enumerate(summary["regions"])], ["#", "captures", "main class", "map region", "examples"]),
        "<h3>Sessions</h3>",
        f"<p>{sess['overview']['sessions']} sessions, median {sess['overview']['median_duration_s']:g} s "
        f"(longest {sess['overview']['longest_duration_s']:g} s); {sess['overview']['sessions_with_captures']} "
        f"took at least one photograph.</p>",
        table([(r["session"], r["duration_s"], r["captures"], r["trail_points"]) for r in sess["table"][:50]],
              ["session", "duration (s)", "captures", "trail points"]),
    ]
    if len(sess["table"]) > 50:
        parts.append(f"<p class='note'>First 50 of {len(sess['table'])} sessions; all are in summary.json.</p>")
    if summary["skipped_bundles"]:
        parts.append("<h3>Skipped bundles</h3><ul>" + "".join(
            f"<li>{html.escape(why)}</li>" for _, why in summary["skipped_bundles"]) + "</ul>")
    return "\n".join(parts)


STYLE = """<style>
body { font-family: sans-serif; margin: 1em 2em; }
table.fse { border-collapse: collapse; margin: .5em 0; } table.fse td, table.fse th { border: 1px solid #ccc; padding: 2px 8px; }
.note { color: #555; font-size: 90%; } code { background: #f3f3f3; padding: 2px 4px; }
</style>"""


def write_html(path: Path, summary: dict, train: dict, captures: dict, trail_xy: np.ndarray, class_names) -> None:
    """train/captures: column dicts (x, y, design, ..., command) for the Bokeh sources.

    Drawing and pointing are separate. Each class, the captures and the trail are drawn by their own
    renderer, so the legend lists them in Fashion-MNIST class order and a click on an entry fades
    that layer. One invisible renderer over every point owns hover and tap: overlapping points give
    one tooltip (a capture's before a training point's), not a stack of them.
    """
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import (BoxZoomTool, ColumnDataSource, CustomJS, Div, HoverTool, Legend, LegendItem,
                              LinearColorMapper, Range1d, TapTool)
    from bokeh.palettes import Greys256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    train_xy = np.stack([np.asarray(train["x"], np.float64), np.asarray(train["y"], np.float64)], 1)
    capture_xy = np.stack([np.asarray(captures["x"], np.float64), np.asarray(captures["y"], np.float64)], 1)
    low, high = view_box(train_xy, FRAME[0] / FRAME[1])
    plot = figure(frame_width=FRAME[0], frame_height=FRAME[1], output_backend="webgl", name="map",
                  x_range=Range1d(low[0], high[0]), y_range=Range1d(low[1], high[1]),
                  tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                  title="The fashion space: training designs by class, the visitors' trail and their captures")
    plot.select_one(BoxZoomTool).match_aspect = True
    plot.xaxis.visible = plot.yaxis.visible = False
    plot.grid.visible = False
    items = []

    train_names = np.asarray(train["class_name"])
    for k, name in enumerate(class_names):
        rows = train_names == name
        layer = plot.scatter(train_xy[rows, 0], train_xy[rows, 1], size=TRAIN_SIZE, color=CLASS_COLOURS[k % 10],
                             alpha=0.8, muted_alpha=0.08, name=f"training {name}")
        items.append(LegendItem(label=name, renderers=[layer]))
    capture_layer = plot.scatter(capture_xy[:, 0], capture_xy[:, 1], size=CAPTURE_SIZE, fill_color=CAPTURE_COLOUR,
                                 line_color="white", muted_alpha=0.1, name="captures")
    items.append(LegendItem(label="capture", renderers=[capture_layer]))

    if len(trail_xy):
        # the density covers the view and where nearly all the trail went, outliers aside
        t_low, t_high = np.percentile(trail_xy, VIEW_PERCENTILES, axis=0)
        d_low, d_high = np.minimum(low, t_low), np.maximum(high, t_high)
        counts, xe, ye = np.histogram2d(trail_xy[:, 0], trail_xy[:, 1], bins=TRAIL_BINS,
                                        range=[[d_low[0], d_high[0]], [d_low[1], d_high[1]]])
        shade = np.log1p(counts.T)  # image rows are y
        mapper = LinearColorMapper(palette=list(reversed(Greys256))[30:], low=0.01, high=max(float(shade.max()), 0.02),
                                   low_color=(0, 0, 0, 0))
        trail_image = plot.image(image=[shade], x=xe[0], y=ye[0], dw=xe[-1] - xe[0], dh=ye[-1] - ye[0],
                                 color_mapper=mapper, global_alpha=0.55, name="trail", level="underlay")
        # the legend's swatch: a marker at NaN is never drawn on the map nor hit by the pointer
        trail_key = plot.scatter([np.nan], [np.nan], marker="square", size=10, color="#9a9a9a")
        items.append(LegendItem(label="trail (grey density)", renderers=[trail_key, trail_image]))
    legend = Legend(items=items, click_policy="mute", name="legend")
    plot.add_layout(legend, "right")  # beside the map, not over it

    # the pointing layer: captures first, every point with the same hover columns
    n_train, n_captures = len(train_xy), len(capture_xy)
    points = ColumnDataSource({
        "x": np.concatenate([capture_xy[:, 0], train_xy[:, 0]]),
        "y": np.concatenate([capture_xy[:, 1], train_xy[:, 1]]),
        "size": [CAPTURE_SIZE] * n_captures + [TRAIN_SIZE] * n_train,
        "priority": [0] * n_captures + [1] * n_train,
        "left": list(captures["design"]) + list(train["original"]),
        "left_alt": ["design"] * n_captures + ["training image"] * n_train,
        "right": list(captures["print_image"]) + list(train["design"]),
        "right_alt": ["with print"] * n_captures + ["decoded design"] * n_train,
        "heading": list(captures["title"]) + list(train["class_name"]),
        "caption": [f"{c}, " + ("no print" if p == "none" else f"print {p}")
                    for c, p in zip(captures["class_name"], captures["print_name"])]
                   + ["training image and its decoded design"] * n_train,
        "title": list(captures["title"]) + list(train["title"]),
        "class_name": list(captures["class_name"]) + list(train["class_name"]),
        "ztext": list(captures["ztext"]) + list(train["ztext"]),
        "command": list(captures["command"]) + list(train["command"]),
    })
    pointer = plot.scatter("x", "y", source=points, size="size", fill_alpha=0, line_alpha=0, name="points",
                           selection_fill_alpha=0, selection_line_alpha=1, selection_line_color=SELECTED_COLOUR,
                           selection_line_width=2.5, nonselection_fill_alpha=0, nonselection_line_alpha=0)
    image_css = "width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc"
    plot.add_tools(HoverTool(renderers=[pointer], limit=1, sort_by="priority", point_policy="snap_to_data",
                             tooltips=f"""
        <div class="fse-hover" style="background:#fff"><img src="@left" style="{image_css}" alt="@left_alt">
        <img src="@right" style="{image_css}" alt="@right_alt"><br>
        <b>@heading</b><br>@caption</div>"""))

    details = Div(text="<p><i>Click a point to see its parameters and how to open it in the kiosk.</i></p>",
                  width=340, name="details")
    show = """
        let hits = points.selected.indices;
        if (hits.length === 0) return;
        const d = points.data;
        const i = hits.reduce((best, j) => d.priority[j] < d.priority[best] ? j : best, hits[0]);
        if (hits.length > 1) { points.selected.indices = [i]; return; }  // one ring, one point
        details.text = `<h3>${d.title[i]}</h3><p>${d.class_name[i]}</p><p>z = ${d.ztext[i]}</p>` +
            `<p>Open in the kiosk:<br><code class="fse-command">${d.command[i]}</code></p>`;
    """
    plot.add_tools(TapTool(renderers=[pointer]))
    points.selected.js_on_change("indices", CustomJS(args={"points": points, "details": details}, code=show))

    header = Div(text=f"<h1>A day at the booth</h1>{STYLE}", width=1340)
    hidden = _outside_note(train_xy, capture_xy, low, high)
    stats = Div(text=hidden + _stats_html(summary), width=1340, name="stats")
    layout = column(header, row(plot, details), stats)
    document = file_html(layout, resources=INLINE, title="Fashion Space Explorer: exploration report")
    Path(path).write_text(document, encoding="utf-8")


def _outside_note(train_xy: np.ndarray, capture_xy: np.ndarray, low: np.ndarray, high: np.ndarray) -> str:
    """Says how many points the initial view leaves out, so nobody thinks they were dropped."""
    def outside(xy):
        return int(np.any((xy < low) | (xy > high), axis=1).sum()) if len(xy) else 0
    counts = [(outside(capture_xy), "capture"), (outside(train_xy), "training point")]
    parts = [f"{n} {what}{'s' if n > 1 else ''}" for n, what in counts if n]
    if not parts:
        return ""
    return (f"<p class='note'>{' and '.join(parts)} lie outside the first view, which spans the middle 99% of "
            f"the training points: zoom out (mouse wheel) to see them; the reset tool returns to this view.</p>")


def write_nothing_yet(path: Path, summary: dict) -> None:
    """The page for an empty log: says so, and what to do, instead of an empty plot."""
    bundles = "".join(f"<li>{html.escape(b)}</li>" for b in summary["bundles"]) or "<li>(none usable)</li>"
    skipped = "".join(f"<li>{html.escape(why)}</li>" for _, why in summary["skipped_bundles"])
    Path(path).write_text(f"""<!doctype html><html><head><meta charset="utf-8">
<title>Fashion Space Explorer: nothing logged yet</title>{STYLE}</head><body>
<h1>Nothing logged yet</h1>
<p id="nothing-yet">These bundles hold no captures and no trail: nobody has explored at the booth since the log began
(or the export was taken from a fresh state directory). Run the kiosk with visitors, then pull the logs again
with <code>fse-export</code>.</p>
<h3>Bundles read</h3><ul>{bundles}</ul>
{"<h3>Skipped bundles</h3><ul>" + skipped + "</ul>" if skipped else ""}
</body></html>
""", encoding="utf-8")


def write_summary(path: Path, summary: dict) -> None:
    Path(path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
