"""A realistic synthetic day at the booth, written through the real CaptureLog (for tests, docs, benchmarks).

    python -m analysis.synthetic STATE_DIR --sessions 40 --trail 20000   # then: fse-export --state-dir STATE_DIR ...

Visitors start at a landmark or a random jump, steer in smooth random walks (the trail, 2 Hz),
and photograph a few designs; captures carry real generated designs in one of the shipped prints
(names from onnx_models/prints.json, rendered by kiosk.prints as the kiosk does). Trail beyond what
sessions produce naturally (benchmarks want a million points) is bulk-inserted as more of the same walks.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

from contract.capture_schema import DB_NAME, utc_text
from contract.capture_writes import insert_trail, record_space, upsert_sessions
from contract.latent import models_space
from contract.models import shipped_models_dir
from kiosk.capture.log import CaptureLog

HOWS = ("joystick", "joystick", "joystick", "canvas", "landmark", "jump", "random")
"""How visitors reach a design (weighted by repetition): mostly steering, sometimes the others."""
UNPRINTED_SHARE = 0.3
"""Captures left without a print; the rest pick one of the shipped prints uniformly."""


class SyntheticError(Exception):
    """The shipped models or prints needed for a synthetic day are missing or broken."""


def print_names(models_dir: Path) -> list[str]:
    """The shipped prints' names from prints.json (what the kiosk offers), without "none"."""
    path = Path(models_dir) / "prints.json"
    try:
        return [entry["name"] for entry in json.loads(path.read_text())["prints"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SyntheticError(
            f"{path}: cannot read the print names ({e}); restore onnx_models/ from the repository"
        ) from None


def _slider_ends(rng: np.random.Generator) -> np.ndarray:
    return np.sign(rng.uniform(-1, 1, 8)) * rng.uniform(0.9, 1.0, 8)


def _walk(rng: np.random.Generator, start: np.ndarray, steps: int) -> np.ndarray:
    """Smooth steering that drifts away from where it started, but mostly stays near (as visitors do)."""
    velocity = np.zeros(8)
    points = np.empty((steps, 8), np.float32)
    z = start.astype(np.float64)
    for i in range(steps):
        velocity = 0.8 * velocity + rng.normal(0, 0.02, 8) + 0.02 * (start - z)
        z = np.clip(z + velocity, -1.0, 1.0)
        points[i] = z
    return points


def make_day(
    state_dir: Path,
    models=None,
    sessions: int = 30,
    trail: int = 0,
    seed: int = 0,
    booth_id: str = "booth-01",
    start_utc: float = 1_714_550_400.0,
    image_px: int = 256,
) -> dict:
    """Write sessions of steering and captures into state_dir; returns counts.

    models: a kiosk.models.FashionModels to render real designs and their prints (None: noise
    designs, tinted instead of printed; print names still from the shipped prints.json).
    """
    rng = np.random.default_rng(seed)
    models_dir = models.models_dir if models is not None else shipped_models_dir()
    names = print_names(models_dir)
    prints = None
    if models is not None:
        from kiosk.prints import Prints

        prints = Prints.load(models_dir)
    anchors = (
        [lm.z for lm in models.landmarks]
        if models is not None and models.landmarks
        else list(rng.uniform(-0.8, 0.8, (10, 8)).astype(np.float32))
    )
    # the latent map of the models (the shipped ones without `models`): what the positions are in
    space = models.latent.space if models is not None else models_space(models_dir)
    log = CaptureLog(state_dir, booth_id, position_space=space, disk_floor_mb=0, trail_hz=2.0, session_idle_s=90)
    t = start_utc
    captures = 0
    trail_points = 0
    for _ in range(sessions):
        # 70 % start at a landmark; the rest are visitors who push the sliders to their ends, the one
        # place outside the training images (the learned prior spreads the data over the whole range).
        start = anchors[rng.integers(len(anchors))] if rng.random() < 0.7 else _slider_ends(rng)
        steps = int(rng.integers(40, 400))  # 20 s .. 200 s at 2 Hz
        path = _walk(rng, np.asarray(start), steps)
        shots = set(rng.choice(steps, int(rng.integers(0, 5)), replace=False).tolist())
        for i, z in enumerate(path):
            now = t + i * 0.5
            log.touch(now)
            trail_points += log.record_trail(z, HOWS[rng.integers(len(HOWS))], now=now)
            if i in shots:
                name = "none" if rng.random() < UNPRINTED_SHARE else names[rng.integers(len(names))]
                weights = np.zeros(len(names), np.float32)
                if name != "none":
                    weights[names.index(name)] = 1.0
                if models is not None:
                    design = models.generate(z[None], 28)[0]
                    big = models.generate(z[None], image_px)[0]
                    rgb = prints.apply(big, weights)  # all-zero weights: the unprinted design
                else:
                    design = rng.random((28, 28))
                    big = np.kron(design, np.ones((image_px // 28 + 1,) * 2))[:image_px, :image_px]
                    rgb = np.round(big[:, :, None] * rng.uniform(0.4, 1.0, 3) * 255).astype(np.uint8)
                how = HOWS[rng.integers(len(HOWS))]
                log.save_capture(z, design, rgb, name, [] if name == "none" else weights, how, now=now)
                captures += 1
        t += steps * 0.5 + float(rng.uniform(100, 600))  # idle gap: a new visitor
    log.close()
    if trail > trail_points:
        bulk_trail(state_dir, trail - trail_points, rng, t, space, booth_id)
        trail_points = trail
    return {"captures": captures, "trail_points": trail_points, "sessions": sessions}


def bulk_trail(
    state_dir: Path, count: int, rng: np.random.Generator, t0: float, space: str, booth_id: str = "booth-01"
) -> None:
    """Append `count` trail points in big transactions (a million takes ~20 s, not an hour of 2 Hz),
    their positions in the latent map named `space`."""
    conn = sqlite3.connect(Path(state_dir) / DB_NAME)
    with conn:
        space_id = record_space(conn, space)
    session = 0
    done = 0
    while done < count:
        n = min(count - done, 20_000)
        path = np.clip(np.cumsum(rng.normal(0, 0.01, (n, 8)), 0) + rng.uniform(-0.5, 0.5, 8), -1, 1).astype("<f4")
        t = t0 + (done + np.arange(n)) * 0.5
        sid = f"bulk-{session}"
        with conn:
            insert_trail(conn, ((float(ti), sid, zi.tobytes(), "joystick") for ti, zi in zip(t, path)), space_id)
            upsert_sessions(conn, [(sid, booth_id, _utc(t[0]), _utc(t[-1]))])
        done += n
        session += 1
    conn.close()


def _utc(t: float) -> str:
    return utc_text(float(t))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--trail", type=int, default=0, help="total trail points (bulk-added beyond the sessions')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--booth", default="booth-01")
    parser.add_argument("--models", type=Path, help="render real designs with these ONNX models")
    args = parser.parse_args(argv)
    from kiosk.models import FashionModels, ModelError
    from kiosk.prints import PrintError

    try:
        models = FashionModels.load(args.models) if args.models else None
        print(json.dumps(make_day(args.state_dir, models, args.sessions, args.trail, args.seed, args.booth)))
    except (SyntheticError, ModelError, PrintError) as e:
        print(f"synthetic: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
