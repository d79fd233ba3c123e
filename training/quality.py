"""How good the fashion space looks, measured on the ONNX models the kiosk runs, through the kiosk's own
wrapper of them (kiosk.models.FashionModels: numpy + onnxruntime).

The exporter writes these figures into manifest.json `quality`; `--reference DIR` measures an older
set of models the same way, in the same run, so before/after compare like with like; and
tests/test_shipped_models.py recomputes the recognition and edge figures on a slice, so a regression
fails CI. The judge is the shipped classifier, never the feature net the generator was trained with.

    reconstruction: photo -> encoder -> generator (28x28) -> classifier: still its class?
    edges:          edge energy of reconstructions and of jumps, as a fraction of the photos'
    jumps:          uniform jumps: class coverage, and the Frechet distance of their classifier
                    logits to the test photos' (how photo-like the space is everywhere, not only at data);
                    improved precision / recall (Kynkaanniemi et al. 2019) of 3000 jumps against 3000
                    test photos in the classifier's logit space (are jumps garments? do they reach
                    every kind of garment?), the share the classifier names with >= 0.9 confidence,
                    and framing (does the garment leave a margin inside the frame on every edge?)
    ripple:         periodic texture inside plain garments at 256 and 1024 px (banding, ringing)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from contract.jumps import JUMP_PROPOSALS
from contract.latent import temper
from contract.space import COORD_SCALE, LATENT_DIM
from kiosk.models import FashionModels

from . import metrics, outline

JUMPS = 2000
"""Jumps behind coverage, entropy, edges and the Frechet distance (the first JUMPS of PR_SAMPLES)."""
PR_SAMPLES = 3000
PR_K = 3
"""Improved precision / recall: PR_SAMPLES jumps against PR_SAMPLES test photos, k-th neighbour balls."""
CONFIDENT = 0.9
FRAMING_JUMPS = 1000
FRAMING_SIZE = 100
"""Framing is judged on 100x100 renders, so one blank row or column is 1 % of the side."""
FRAMING_MARGIN = 0.02
CONFIDENT_KEY = f"named_with_confidence>={CONFIDENT}"
FRAMED_KEY = f"framed_with_{FRAMING_MARGIN:g}_margin"
GARMENT_LEVEL = 0.5
"""A pixel is garment when the design is at least this dark (1 = garment)."""
RIPPLE_SIZES = (256, 1024)
RIPPLE_JUMPS = 24
"""The same RIPPLE_JUMPS jumps are rendered at each size: the measure is resolution-independent, so
only the size differs between the two figures. (Until 2026-12-02 the 1024 px figure took 6 other
jumps; on v1 that read 0.038 where the same 24 jumps read 0.060 at both sizes: it was the sample.)"""


def on_photos_square(models: FashionModels, u: np.ndarray, size: int = 28) -> np.ndarray:
    """Designs of slider positions u (N, 8) on the training square, where the photos' garments sit:
    the figures that compare designs with photos (and the classifier that learned from them) judge
    these; framing judges the view's own square."""
    return models.generate_many(u, size, scale=COORD_SCALE)


def reconstruction_figures(s: FashionModels, images: np.ndarray, labels: np.ndarray) -> dict:
    recon = on_photos_square(s, s.encode(images))
    return {
        "images": int(len(images)),
        "classifier_on_photos": float((s.classify(images).argmax(1) == labels).mean()),
        "classifier_on_reconstructions": float((s.classify(recon).argmax(1) == labels).mean()),
        "edge_ratio_reconstructions": metrics.edge_energy(recon) / metrics.edge_energy(images),
    }


def jump_figures(
    s: FashionModels, photos: np.ndarray, seed: int, temperature: float = 1.0, proposals: int = JUMP_PROPOSALS
) -> dict:
    """Everything measured on hyperspace jumps as the kiosk jumps: of `proposals` uniform proposals in
    the sliders' [-1, 1]^8 (at the kiosk's jump_temperature), the one the kiosk lands on
    (`jump_landings`; proposals=1: the plain uniform jump). The landed designs are then judged on
    the photos' square, like with like."""
    rng = np.random.default_rng(seed)
    proposed = temper(rng.uniform(-1, 1, (PR_SAMPLES, proposals, LATENT_DIM)), temperature).astype(np.float32)
    u = proposed[np.arange(PR_SAMPLES), jump_landings(s, proposed)]
    designs = on_photos_square(s, u)
    logits = s.classify(designs)
    pick = rng.permutation(len(photos))
    photo_logits = s.classify(photos[pick[:PR_SAMPLES]])
    figures = {
        **metrics.class_coverage(logits[:JUMPS].argmax(1)),
        "edge_ratio": metrics.edge_energy(designs[:JUMPS]) / metrics.edge_energy(photos[:JUMPS]),
        "frechet_logits_to_photos": metrics.frechet_distance(logits[:JUMPS], s.classify(photos[:JUMPS])),
        **precision_recall(photo_logits, logits),
        CONFIDENT_KEY: confident_share(logits),
        "proposals_per_jump": proposals,
        **framing_figures(s.generate_many(u[:FRAMING_JUMPS], FRAMING_SIZE)),  # on the view's square, as seen
    }
    if len(photos) >= 2 * PR_SAMPLES:  # the same figures for photos against other photos: the ceiling
        other = s.classify(photos[pick[PR_SAMPLES : 2 * PR_SAMPLES]])
        pr = precision_recall(photo_logits, other)
        figures["photos_vs_photos"] = {**pr, CONFIDENT_KEY: confident_share(other)}
    return figures


def jump_landings(models: FashionModels, proposed: np.ndarray) -> np.ndarray:
    """(J, N, 8) proposals of J jumps -> (J,) the one each lands on: the kiosk's own landing
    (FashionModels.jump_landing: the proposals' 28 px designs on the view's square, contract.jumps'
    rule), called jump by jump as the booth calls it, so the figures describe the designs visitors
    land on. (Judged on the training square instead, 428 of 3000 jumps landed elsewhere.)"""
    if proposed.shape[1] == 1:
        return np.zeros(len(proposed), int)
    return np.array([models.jump_landing(p) for p in proposed], int)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of feature vectors (N, D).

    Each sample's ball reaches its k-th nearest neighbour within its own set. Precision: the share of
    `fake` inside at least one ball of `real` (generated samples that look like data); recall: the
    share of `real` inside at least one ball of `fake` (data the generator reaches)."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    return {
        "precision": float(_inside_any_ball(fake, real, r_real).mean()),
        "recall": float(_inside_any_ball(real, fake, r_fake).mean()),
        "pr_k": k,
        "pr_samples": [int(len(real)), int(len(fake))],
    }


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None], 0.0)


def _kth_radius(x: np.ndarray, k: int, chunk: int = 1000) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row."""
    out = []
    for s in range(0, len(x), chunk):
        d = _sq_distances(x[s : s + chunk], x)
        out.append(np.partition(d, k, axis=1)[:, k])  # column 0 is the row itself (distance 0)
    return np.concatenate(out)


def _inside_any_ball(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1000) -> np.ndarray:
    return np.concatenate(
        [(_sq_distances(queries[s : s + chunk], centres) <= radii[None]).any(1) for s in range(0, len(queries), chunk)]
    )


def confident_share(logits: np.ndarray, level: float = CONFIDENT) -> float:
    """The share of designs whose most likely class has softmax probability >= level."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return float((p.max(1) >= level).mean())


def garment_margins(designs: np.ndarray, level: float = GARMENT_LEVEL) -> np.ndarray:
    """(N, S, S) designs -> (N, 4) blank rows or columns between the garment and the top, bottom, left
    and right edge, as a fraction of the side (1.0 where there is no garment at all)."""
    size = designs.shape[-1]
    garment = designs >= level
    rows, cols = garment.any(2), garment.any(1)  # (N, S) each

    def first(mask):
        return np.where(mask.any(1), mask.argmax(1), size)

    margins = np.stack([first(rows), first(rows[:, ::-1]), first(cols), first(cols[:, ::-1])], axis=1)
    return margins / size


def framing_figures(designs: np.ndarray, margin: float = FRAMING_MARGIN) -> dict:
    """The share of designs whose garment leaves >= `margin` of the side blank on every edge, and
    which edges are touched (the share of designs with less than `margin` there)."""
    m = garment_margins(designs)
    short = m < margin - 1e-9
    return {
        f"framed_with_{margin:g}_margin": float((~short).all(1).mean()),  # FRAMED_KEY at the default
        "short_margin_top_bottom_left_right": [round(float(x), 4) for x in short.mean(0)],
        "framing_jumps": int(len(designs)),
        "framing_size_px": int(designs.shape[-1]),
    }


def ripple_figures(s: FashionModels, seed: int) -> dict:
    z = np.random.default_rng(seed).uniform(-1, 1, (RIPPLE_JUMPS, LATENT_DIM)).astype(np.float32)
    return {f"interior_ripple_{size}": metrics.interior_ripple(on_photos_square(s, z, size)) for size in RIPPLE_SIZES}


def space_quality(s: FashionModels, images: np.ndarray, labels: np.ndarray, seed: int = 7, ripple: bool = True) -> dict:
    """All of the above for one set of models, on the given test photos."""
    figures = {"reconstruction": reconstruction_figures(s, images, labels), "jumps": jump_figures(s, images, seed + 1)}
    if ripple:
        figures["ripple"] = ripple_figures(s, seed + 2)
    return figures


def quality_table(q: dict) -> str:
    """The before/after table of docs/training.md, from a manifest's `quality` (a test checks the doc has it)."""
    ref = q.get("reference") or {}

    def row(label, target, get, fmt="{:.3f}"):
        def cell(d):
            try:
                return fmt.format(get(d))
            except (KeyError, TypeError):
                return "-"

        return f"| {label} | {target} | {cell(ref)} | {cell(q)} |"

    def rec(d):
        return d["reconstruction"]

    def jump(d):
        return d["hyperspace_jump"]

    def outline_width(d, designs, how):
        return d["outline"][designs][how]["width_px"]

    rows = [
        "| figure (10k test set unless noted) | target | before (`--reference`) | shipped now |",
        "|---|---|---|---|",
        row("classifier on test photos", ">= 0.91", lambda d: rec(d)["classifier_on_photos"]),
        row("classifier on their reconstructions", ">= 0.80", lambda d: rec(d)["classifier_on_reconstructions"]),
        row("edge energy, reconstructions / photos", ">= 0.80", lambda d: rec(d)["edge_ratio_reconstructions"]),
        row("edge energy, 2000 jumps / photos", ">= 0.80", lambda d: jump(d)["edge_ratio"]),
        row("latent kNN (k=5), 10k training subset", ">= 0.82", lambda d: d["latent_knn5_accuracy"]),
        row("jumps: classes with >= 1 % of 2000", "10", lambda d: jump(d)["classes_at_least_1pct"], "{}"),
        row("jumps: entropy of the class histogram, nats", ">= 2.1", lambda d: jump(d)["entropy_nats"]),
        row(
            "jumps: Frechet distance of classifier logits to photos",
            "<= half of before",
            lambda d: jump(d)["frechet_logits_to_photos"],
            "{:.1f}",
        ),
        row(
            "jumps: precision (k=3, 3000 vs 3000 photos, classifier logits)", ">= 0.85", lambda d: jump(d)["precision"]
        ),
        row("jumps: recall (same)", ">= 0.65", lambda d: jump(d)["recall"]),
        row("jumps named with >= 0.9 confidence", ">= 0.60", lambda d: jump(d)[CONFIDENT_KEY]),
        row("jumps framed with a 2 % margin (1000, as viewed)", ">= 0.99", lambda d: jump(d)[FRAMED_KEY]),
        row("reconstruction BCE, nats per image", "<= 225", lambda d: d["reconstruction_bce_nats"], "{:.1f}"),
        row("interior ripple at 256 px (banding)", "<= before", lambda d: d["ripple"]["interior_ripple_256"], "{:.4f}"),
        row("interior ripple at 1024 px", "<= before", lambda d: d["ripple"]["interior_ripple_1024"], "{:.4f}"),
        row("generator multiply-adds per pixel", "<= 1.5x v1", lambda d: d["generator_per_pixel_macs"], "{:,}"),
        row(
            "outline width at 1024 px, 20 jumps as drawn (10-90 % rise), px",
            "-",
            lambda d: outline_width(d, "jumps", "drawn"),
            "{:.1f}",
        ),
        row(
            "outline width at 1024 px, 20 jumps as shown, px",
            f"<= {outline.MAX_WIDTH_PX:g}",
            lambda d: outline_width(d, "jumps", "shown"),
            "{:.2f}",
        ),
        row(
            "outline width, 20 reconstructions as shown, px",
            f"<= {outline.MAX_WIDTH_PX:g}",
            lambda d: outline_width(d, "reconstructions", "shown"),
            "{:.2f}",
        ),
        row(
            "outline width, the same photos upscaled bicubically, px",
            "-",
            lambda d: d["outline"]["photos_bicubic"]["width_px"],
            "{:.1f}",
        ),
        row(
            "outline overshoot (halo), p90, jumps / reconstructions as shown",
            f"<= {outline.MAX_OVERSHOOT:g}",
            lambda d: (
                "%.3f / %.3f" % tuple(d["outline"][k]["shown"]["overshoot_p90"] for k in ("jumps", "reconstructions"))
            ),
            "{}",
        ),
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """`python -m training.quality MODELS_DIR`: the jump figures of a models folder, as the exporter
    measures them (10k test photos, seed 8 as in the export), printed as JSON."""
    import argparse

    from contract.fashion_mnist import load_split

    p = argparse.ArgumentParser(prog="python -m training.quality", description=main.__doc__)
    p.add_argument("models", type=Path, help="a folder fse-train export wrote")
    p.add_argument("--data", help="Fashion-MNIST directory")
    p.add_argument("--seed", type=int, default=7, help="the export's seed (jumps use seed + 1)")
    p.add_argument("--temperature", type=float, default=1.0, help="the kiosk's [input] jump_temperature")
    p.add_argument(
        "--proposals", type=int, default=JUMP_PROPOSALS, help="proposals per jump (1: the plain uniform jump)"
    )
    args = p.parse_args(argv)
    test = load_split("test", args.data)
    figures = jump_figures(
        FashionModels.unverified(args.models), test.images, args.seed + 1, args.temperature, args.proposals
    )
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
