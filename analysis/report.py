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

from kiosk.capture_log import encode_png

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # matplotlib's tab10, as in the original map
CAPTURE_COLOUR = "#000000"
TRAIL_BINS = 200
THUMB_PX = 96
"""Print thumbnails in the hover: big enough to see the print, ~4 KB each as JPEG."""
MAX_THUMBS = 5000
"""Captures beyond this get no print thumbnail in the page (keeps index.html under ~30 MB)."""


def png_data_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels, level=9)).decode()


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
# map.png

def write_map_png(path: Path, train_xy, train_label, capture_xy, trail_xy, class_names, size: int = 1400) -> None:
    """Training points coloured by class, the trail as grey density, captures in black on top."""
    legend_w = 220
    image = Image.new("RGB", (size + legend_w, size), "white")
    draw = ImageDraw.Draw(image)
    everything = np.concatenate([train_xy, capture_xy, trail_xy]) if len(trail_xy) or len(capture_xy) else train_xy
    low, high = everything.min(0), everything.max(0)
    margin = 30

    def to_px(xy):
        scaled = (xy - low) / np.maximum(high - low, 1e-9)
        return np.stack([margin + scaled[:, 0] * (size - 2 * margin),
                         size - margin - scaled[:, 1] * (size - 2 * margin)], axis=1)

    if len(trail_xy):
        px = to_px(trail_xy).astype(np.int64)
        density = np.zeros((size, size), np.float64)
        np.add.at(density, (np.clip(px[:, 1], 0, size - 1), np.clip(px[:, 0], 0, size - 1)), 1)
        shade = np.log1p(density)
        shade = (shade / max(shade.max(), 1e-9) * 200).astype(np.uint8)
        rgb = np.asarray(image).copy()
        rgb[:, :size] -= np.minimum(rgb[:, :size], shade[:, :, None])
        image = Image.fromarray(rgb)
        draw = ImageDraw.Draw(image)
    for (x, y), label in zip(to_px(train_xy), train_label):
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=CLASS_COLOURS[int(label) % 10])
    for x, y in to_px(capture_xy):
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=CAPTURE_COLOUR, outline="white")
    entries = [(name, CLASS_COLOURS[i]) for i, name in enumerate(class_names)]
    entries += [("capture", CAPTURE_COLOUR), ("trail (grey density)", "#888888")]
    for i, (name, colour) in enumerate(entries):
        y = 40 + 28 * i
        draw.ellipse((size + 10, y, size + 24, y + 14), fill=colour)
        draw.text((size + 32, y), name, fill="black")
    image.save(path)


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
    """train/captures: column dicts (x, y, design, ..., command) for the Bokeh sources."""
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import (ColumnDataSource, CustomJS, Div, HoverTool, LinearColorMapper, TapTool)
    from bokeh.palettes import Greys256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    plot = figure(width=1000, height=800, output_backend="webgl", match_aspect=True, name="map",
                  tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                  title="The fashion space: training designs by class, the visitors' trail and their captures")
    plot.xaxis.visible = plot.yaxis.visible = False
    plot.grid.visible = False

    if len(trail_xy):
        everything = np.concatenate([np.stack([train["x"], train["y"]], 1), trail_xy])
        low, high = everything.min(0), everything.max(0)
        counts, xe, ye = np.histogram2d(trail_xy[:, 0], trail_xy[:, 1], bins=TRAIL_BINS,
                                        range=[[low[0], high[0]], [low[1], high[1]]])
        shade = np.log1p(counts.T)  # image rows are y
        mapper = LinearColorMapper(palette=list(reversed(Greys256))[30:], low=0.01, high=max(float(shade.max()), 0.02),
                                   low_color=(0, 0, 0, 0))
        trail_image = plot.image(image=[shade], x=xe[0], y=ye[0], dw=xe[-1] - xe[0], dh=ye[-1] - ye[0],
                                 color_mapper=mapper, global_alpha=0.55, name="trail")
        plot.add_tools(HoverTool(renderers=[trail_image], tooltips=[("trail density, log(1 + visits)", "@image{0.00}")]))

    train_source = ColumnDataSource(train)
    train_glyph = plot.scatter("x", "y", source=train_source, size=5, color="colour", alpha=0.8,
                               legend_field="class_name", name="training")
    capture_source = ColumnDataSource(captures)
    capture_glyph = plot.scatter("x", "y", source=capture_source, size=9, marker="circle", fill_color=CAPTURE_COLOUR,
                                 line_color="white", legend_label="capture", name="captures")
    plot.legend.click_policy = "hide"
    plot.add_layout(plot.legend[0], "right")  # beside the map, not over it

    image_css = "width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc"
    plot.add_tools(HoverTool(renderers=[train_glyph], tooltips=f"""
        <div class="fse-hover"><img src="@original" style="{image_css}" alt="training image">
        <img src="@design" style="{image_css}" alt="decoded design"><br>
        <b>@class_name</b> (training image and its decoded design)</div>"""))
    plot.add_tools(HoverTool(renderers=[capture_glyph], tooltips=f"""
        <div class="fse-hover"><img src="@design" style="{image_css}" alt="design">
        <img src="@print_image" style="width:84px;height:84px" alt="with print"><br>
        <b>@title</b><br>@class_name, print @print_name</div>"""))

    details = Div(text="<p><i>Click a point to see its parameters and how to open it in the kiosk.</i></p>",
                  width=340, name="details")
    show = """
        const i = source.selected.indices[0];
        if (i === undefined) return;
        const d = source.data;
        details.text = `<h3>${d.title[i]}</h3><p>${d.class_name[i]}</p><p>z = ${d.ztext[i]}</p>` +
            `<p>Open in the kiosk:<br><code class="fse-command">${d.command[i]}</code></p>`;
    """
    plot.add_tools(TapTool(renderers=[train_glyph, capture_glyph]))
    for source in (train_source, capture_source):
        source.selected.js_on_change("indices", CustomJS(args={"source": source, "details": details}, code=show))

    header = Div(text=f"<h1>A day at the booth</h1>{STYLE}", width=1340)
    stats = Div(text=_stats_html(summary), width=1340, name="stats")
    layout = column(header, row(plot, details), stats)
    document = file_html(layout, resources=INLINE, title="Fashion Space Explorer: exploration report")
    Path(path).write_text(document, encoding="utf-8")


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
