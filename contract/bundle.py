"""The capture bundle: what `fse-export` (kiosk/log_export/) writes and `fse-analyze` (analysis/bundles.py) reads.

A bundle is a folder `<booth>-<utc>/` holding
    log.sqlite      a single-file snapshot of the capture log (contract/capture_schema.py)
    images/...      the capture images the log names (or, incrementally, only those no earlier bundle holds)
    manifest.json   written last, once everything else is flushed to the disk:
        format, format_version      BUNDLE_FORMAT, BUNDLE_VERSION
        booth_id, schema_version, exported_utc, time_range {first_utc, last_utc}
        log_id                      the exported log's own id (capture_schema.log_identity; version 2 on)
        counts {captures, trail_points, sessions, images, images_copied, images_resumed}
                                    (images_resumed: copies an interrupted export left, read back and kept)
        missing_images              image paths the log names that could not be copied
        exported_capture_ids        captures (numbers in log_id) whose image is in this bundle or an earlier one beside it
        files {path: sha256}        every other file in the bundle
        images_in_earlier_bundles   {image path: {bundle, sha256}}: held by a whole bundle in the same folder
        set_aside_log               only in the bundle of a log the kiosk set aside: quarantine/log-<utc>.sqlite

A bundle is written as `NAME.partial/` and renamed to `NAME/` after its manifest: a folder with its
final name is whole; a `.partial` one is an export that was cut short. docs/analysis.md has the long version.
"""

from __future__ import annotations

import json
import re

import numpy as np

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "fse-capture-bundle"
BUNDLE_VERSION = 2  # 2: log_id
PARTIAL_SUFFIX = ".partial"
MANIFEST_LIMIT = 16 << 20  # ~100,000 images; a bigger manifest is not ours (and parsing it would cost ~15x in memory)
MANIFEST_DEPTH = 8  # ours nest 4 deep; a manifest of "[[[[..." is not ours (and would exhaust the parser)

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def parse_manifest(data: bytes) -> dict:
    """A manifest's bytes as a dict; ValueError for anything that is not one of ours: more than
    MANIFEST_LIMIT bytes, nested deeper than MANIFEST_DEPTH, not JSON, not an object. Read from
    sticks anybody may have written, so its size and depth are checked before json parses it."""
    if len(data) > MANIFEST_LIMIT:
        raise ValueError(f"over {MANIFEST_LIMIT >> 20} MB")
    bare, depth = np.frombuffer(_STRING.sub(b'""', data), np.uint8), 0
    for start in range(0, len(bare), 1 << 20):  # in 1 MB pieces: the check must not cost more than the parse
        piece = bare[start : start + (1 << 20)]
        steps = np.isin(piece, (ord("["), ord("{"))).astype(np.int32) - np.isin(piece, (ord("]"), ord("}")))
        levels = depth + np.cumsum(steps, dtype=np.int32)
        if int(levels.max()) > MANIFEST_DEPTH:
            raise ValueError(f"nested deeper than {MANIFEST_DEPTH}")
        depth = int(levels[-1])
    manifest = json.loads(data)
    if not isinstance(manifest, dict):
        raise ValueError("not a JSON object")
    return manifest
