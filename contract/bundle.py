"""The capture bundle: what `fse-export` (kiosk/log_export/) writes and `fse-analyze` (analysis/bundles.py) reads.

A bundle is a folder `<booth>-<utc>/` holding
    log.sqlite      a single-file snapshot of the capture log (contract/capture_schema.py)
    images/...      the capture images the log names (or, incrementally, only those no earlier bundle holds)
    manifest.json   written last, once everything else is flushed to the disk:
        format, format_version      BUNDLE_FORMAT, BUNDLE_VERSION
        booth_id, schema_version, exported_utc, time_range {first_utc, last_utc}
        log_id                      the exported log's own id (capture_schema.log_identity; version 2 on)
        counts {captures, trail_points, sessions, images, images_copied}
        missing_images              image paths the log names that could not be copied
        exported_capture_ids        captures (numbers in log_id) whose image is in this bundle or an earlier one beside it
        files {path: sha256}        every other file in the bundle
        images_in_earlier_bundles   {image path: {bundle, sha256}}: held by a whole bundle in the same folder

A bundle is written as `NAME.partial/` and renamed to `NAME/` after its manifest: a folder with its
final name is whole; a `.partial` one is an export that was cut short. docs/analysis.md has the long version.
"""

from __future__ import annotations

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "fse-capture-bundle"
BUNDLE_VERSION = 2  # 2: log_id
PARTIAL_SUFFIX = ".partial"
MANIFEST_LIMIT = 64 << 20  # an earlier bundle's manifest bigger than this is not ours
