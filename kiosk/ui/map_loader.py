"""Map mode's data, loaded off the UI thread: the reference map and this booth's captures on it.

One worker thread owns the reading: it loads `onnx_models/fashion_map.npz` once (after checking it
is the file manifest.json lists, with the shipped encoder) and, on each request, reads the newest
captures from the capture log and places them on the map. Requests that arrive while it works
collapse into one (newest request wins). The UI thread only reads the finished results, each
published as one attribute assignment, so it never waits on SQLite, the disk or numpy work.

The map is fitted in the encoder's latent z, the log holds slider positions: both the captures
and the visitor go through the models' position spaces (contract.latent.PositionSpaces, as in
fse-analyze) before being placed. A capture in a map these models cannot read (logged with other
models, or before logs named their map) is not shown: the kiosk cannot know where it belongs.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from contract.capture_schema import DB_NAME, open_db, recent_capture_positions
from contract.latent import PositionSpaceError, PositionSpaces, space_codes
from contract.mapfile import FIT_COMMAND, MAP_FILE, MapFileError, check_manifest, load_map
from contract.models import sha256_file

from ..models import ModelError, read_manifest

log = logging.getLogger(__name__)

CAPTURES_SHOWN = 500
"""This booth's newest captures marked on the map."""
LOADING = "Loading the map..."


def read_map(models_dir: Path):
    """(FashionMap without the training images, PositionSpaces, "") or (None, None, why and the fix)."""
    path = Path(models_dir) / MAP_FILE
    try:
        fmap = load_map(path, images=False)
        manifest = read_manifest(Path(models_dir))
        check_manifest(manifest, sha256_file(path), Path(models_dir))
        spaces = PositionSpaces.load(Path(models_dir), manifest)
    except (MapFileError, ModelError, PositionSpaceError) as e:
        return None, None, f"Map mode is off: {e}"
    except Exception as e:  # anything else the file does to the reader: the panel says so, the thread lives on
        log.exception("reading %s", path)
        return None, None, f"Map mode is off: {path} cannot be read ({e}); rebuild it with `{FIT_COMMAND}`"
    return fmap, spaces, ""


def captured_z(state_dir: Path, spaces: PositionSpaces) -> np.ndarray:
    """(M, 8) latent z of this booth's newest captures that these models can read (none when the
    log cannot be read yet)."""
    db = Path(state_dir) / DB_NAME
    if not db.is_file():
        return np.zeros((0, 8), np.float32)
    try:
        conn = open_db(db, read_only=True)
        try:
            positions, names = recent_capture_positions(conn, CAPTURES_SHOWN)
        finally:
            conn.close()
    except Exception:  # a log being migrated or locked: show no markers this time, never stop the kiosk
        return np.zeros((0, 8), np.float32)
    codes, seen = space_codes(names)
    readable = np.isin(codes, [i for i, name in enumerate(seen) if spaces.knows(name)])
    return spaces.to_z(positions[readable], codes[readable], seen)


class MapLoader:
    """`map`, `message` and `captures_xy` (map coordinates in [0, 1]) are the published results;
    `version` counts publications, so a screen can redraw when a result arrives."""

    def __init__(self, models_dir: Path, state_dir: Path | None) -> None:
        self.models_dir, self.state_dir = Path(models_dir), state_dir
        self.map = None
        self.spaces: PositionSpaces | None = None
        self.message = LOADING
        self.captures_xy: np.ndarray | None = None
        self.version = 0
        self.loaded = threading.Event()
        self._wake = threading.Event()
        self._requested = 0  # bumped by the UI thread; the worker serves the newest
        self._served = 0
        self.served = threading.Event()
        self._thread = threading.Thread(target=self._run, name="map-loader", daemon=True)
        self._thread.start()

    def request_captures(self) -> None:
        """Place this booth's captures again (map mode opened); returns at once."""
        self._requested += 1
        self.served.clear()
        self._wake.set()

    def place_sliders(self, u: np.ndarray) -> np.ndarray:
        """Slider positions of these models (B, 8) or (8,) -> map xy, as the captures are placed."""
        u = np.asarray(u, np.float32)
        rows = np.atleast_2d(u)
        z = self.spaces.to_z(rows, np.zeros(len(rows), np.int64), [self.spaces.current.space])
        return self.map.place(z[0] if u.ndim == 1 else z)

    def sliders_at(self, index: int) -> np.ndarray:
        """The slider positions of the map's training design `index` (what a tap on it glides to)."""
        return self.spaces.current.to_sliders(self.map.z[index])[0]

    def _run(self) -> None:
        fmap, self.spaces, message = read_map(self.models_dir)
        self.map, self.message = fmap, message  # the map last: whoever sees it sees its spaces
        self.version += 1
        self.loaded.set()
        while True:
            self._wake.wait()
            self._wake.clear()
            wanted = self._requested
            if self.map is not None and self.state_dir is not None:
                zs = captured_z(self.state_dir, self.spaces)
                self.captures_xy = self.map.place(zs) if len(zs) else None
                self.version += 1
            self._served = wanted
            if self._served == self._requested:
                self.served.set()
