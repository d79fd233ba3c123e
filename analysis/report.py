"""The report's files: map.png (Pillow), captures.csv, summary.json, and what index.html shares with them.

index.html, the interactive page, is analysis/page.py (with report.html, report.css and report.js);
this module holds what the page and the files have in common: the class colours, the first view of
the map, the capture table and its CSV columns (the page's CSV download writes the same), and the
data URIs the page shows designs with.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from dataclasses import dataclass
from datetime import datetime
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
CAPTURE_COLOUR = "#000000"
TRAIL_BINS = 200
"""Cells across the trail's density grid (the view, widened on the page to hold nearly all the trail)."""
VIEW_PERCENTILES = (0.5, 99.5)
"""The initial view spans these percentiles of the training points' map positions..."""
VIEW_MARGIN = 0.06
"""...plus this fraction of that span on each side."""
THUMB_PX = 200
"""The photographed design (with its print) in the page: shown small in the hover, large in the
details panel; ~8 KB each as JPEG."""


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


def report_title(booths: list[str], first_utc: str | None, last_utc: str | None) -> str:
    """What the data spans, e.g. "booth-01, 1 May 2024" or "3 booths, 30 Apr to 2 May 2024"."""
    who = booths[0] if len(booths) == 1 else f"{len(booths)} booths"
    if first_utc is None:
        return f"{who}, clock not set"
    first, last = (datetime.strptime(t[:10], "%Y-%m-%d") for t in (first_utc, last_utc))

    def day(d: datetime, year: bool = True) -> str:
        return f"{d.day} {d:%b}" + (f" {d.year}" if year else "")

    if first == last:
        return f"{who}, {day(first)}"
    return f"{who}, {day(first, year=first.year != last.year)} to {day(last)}"


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
    sliders: np.ndarray  # (C, 8) slider positions that show each design with the shipped models (embed.log_latents)
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
        **{f"z{i + 1}": [f"{u[i]:.5f}" for u in table.sliders] for i in range(8)},  # text: the page writes the same
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
# the report folder

OUTPUTS = ("index.html", "map.png", "summary.json", "captures.csv")


def remove_outputs(out: Path) -> None:
    """Delete an earlier run's report files, so a failed or empty run leaves nothing stale."""
    for name in OUTPUTS:
        (Path(out) / name).unlink(missing_ok=True)


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
