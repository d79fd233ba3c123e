"""`fse-train export`: the trained models -> ONNX files, landmarks and the manifest the kiosk reads.

    fse-train export --space runs/space --classifier runs/classifier --prior runs/prior --out onnx_models
                     [--reference OLD_MODELS]

Writes encoder.onnx, generator.onnx, classifier.onnx (opset 17, dynamic batch and resolution),
prior.npz, landmarks.json and manifest.json (files with sha256, input/output names, shapes and
dtypes, training config, dataset checksum, command, wall time and the quality figures measured on
the 10k test set). Every model is checked with `onnx.checker` (full check) and against PyTorch.

The encoder and generator speak the space's own latent z; the 8 sliders the kiosk shows (each in
[-1, 1]) reach it through the learned prior (`fse-train prior`, applied by contract.latent), so a
uniform hyperspace jump samples where the training images sit.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from contract.fashion_mnist import CLASS_NAMES, dataset_checksum, load_split
from contract.latent import G_LIMIT, PRIOR_FILE, U_LIMIT, LatentMap
from contract.models import CLASSIFIER, ENCODER, GENERATOR, sha256_file
from contract.space import LATENT_DIM, coordinates
from kiosk.models import FashionModels

from .classifier import Classifier
from .config import ClassifierConfig, SpaceConfig, from_dict
from .cppn_vae import FashionSpace
from .export_figures import V1_PER_PIXEL_MACS, choose_sharpness, measure, reference_bce, targets
from .landmarks import make_landmarks
from .landmarks import write as write_landmarks
from .prints.export import add_prints
from .train import load_checkpoint

OPSET = 17  # TensorRT 8.5/8.6 on JetPack 5 stops at 17
VIEW_SCALE = 1.08
"""The coordinate square the kiosk views (manifest `coordinates.scale`), as a multiple of the training
square: Fashion-MNIST's garments fill their 28x28 frame edge to edge (70 % of the test photos touch it),
so the generator's do too. At 1.08 the training square fills 92.6 % of the side, and a garment at
its edge (plus the fade) leaves 3 % blank. Extrapolating the CPPN there instead of fading it out
framed at most 94 % of jumps (at 1.08; 1.15: 72 %)."""
SQUARE_FADE = 0.01
"""Width of the fade to background outside the training square, in coordinate units: under a pixel
at 28 px, about 5 px at 1024 px, so the cut reads as an edge, not as a stair."""


class ExportEncoder(nn.Module):
    """image (B, 1, 28, 28) in [0, 1] -> z (B, 8): the posterior mean (contract.latent maps it to sliders)."""

    def __init__(self, model: FashionSpace):
        super().__init__()
        self.encoder = model.encoder

    def forward(self, image):
        mean, _ = self.encoder(image)
        return mean


class ExportGenerator(nn.Module):
    """z (B, 8) the space's latent, coords (H, W, 3) from contract.space.coordinates -> design (B, H, W).

    `sharpness` k renders sigmoid(k * logits): the Bernoulli decoder's output is the mean of what the
    pixel could be, greyest where it is least sure; k > 1 draws the likelier side more firmly (the
    way a temperature below 1 does for a language model). k = 1 is the trained model unchanged.

    The design is what the generator learned on the training square [-c, c]^2 (c = the config's
    coord_scale) and plain background outside it, faded over SQUARE_FADE: the kiosk views the square
    with a margin (VIEW_SCALE), where the CPPN would otherwise extrapolate whatever its tanh layers
    continue to (a neckline cut by the frame, stray shapes in the corners). Inside the square, so at
    the training grid, the window is exactly 1."""

    def __init__(self, model: FashionSpace, sharpness: float = 1.0):
        super().__init__()
        self.generator = model.generator
        self.sharpness = sharpness
        self.square = model.cfg.coord_scale

    def forward(self, z, coords):
        logits = self.generator.logits(z, coords)
        design = torch.sigmoid(logits * self.sharpness if self.sharpness != 1.0 else logits)  # (B, H, W)
        inside = torch.clamp((self.square + SQUARE_FADE - coords[..., :2].abs()) / SQUARE_FADE, 0.0, 1.0)  # (H, W, 2)
        return design * (inside[..., 0] * inside[..., 1])


class ExportClassifier(nn.Module):
    def __init__(self, model: Classifier):
        super().__init__()
        self.model = model

    def forward(self, image):
        return self.model(image)


def _export(module: nn.Module, args: tuple, out: Path, spec) -> None:
    """One model, named and shaped as contract.models says."""
    module.eval()
    path = out / spec.file
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=spec.input_names,
        output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes(),
        opset_version=OPSET,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def _io(path: Path) -> dict:
    """Input/output names, shapes (symbolic dims as names) and dtypes, read from the ONNX graph."""
    model = onnx.load(str(path))

    def describe(values):
        out = []
        for v in values:
            t = v.type.tensor_type
            shape = [d.dim_param or d.dim_value for d in t.shape.dim]
            out.append(
                {"name": v.name, "shape": shape, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name}
            )
        return out

    init = {i.name for i in model.graph.initializer}
    return {
        "inputs": describe([i for i in model.graph.input if i.name not in init]),
        "outputs": describe(model.graph.output),
        "opset": model.opset_import[0].version,
    }


def check_parity(space: FashionSpace, sharpness: float, s: FashionModels, rng: np.random.Generator) -> dict:
    """Max |onnxruntime - PyTorch| for the generator at 28x28 and 256x256 and the encoder (in z), and
    the latent map's round trip sliders -> z -> sliders."""
    wrapper = ExportGenerator(space, sharpness).eval()
    u = rng.uniform(-1, 1, (4, LATENT_DIM)).astype(np.float32)
    z = s.latent.to_z(u)
    result = {}
    for size in (28, 256):
        with torch.no_grad():
            ref = wrapper(torch.from_numpy(z), torch.from_numpy(coordinates(size, size, space.cfg.coord_scale))).numpy()
        result[f"generator_{size}"] = float(np.abs(ref - s.generate(u, size, scale=space.cfg.coord_scale)).max())
    images = rng.uniform(0, 1, (4, 28, 28)).astype(np.float32)
    with torch.no_grad():
        ref = ExportEncoder(space).eval()(torch.from_numpy(images[:, None])).numpy()
    result["encoder"] = float(np.abs(ref - s.encode_z(images)).max())
    u = rng.uniform(-U_LIMIT, U_LIMIT, (1000, LATENT_DIM))
    result["sliders_round_trip"] = float(np.abs(s.latent.to_sliders(s.latent.to_z(u)) - u).max())
    return result


def export_all(
    space_run: Path,
    classifier_run: Path,
    out: Path,
    prior_run: Path,
    data: str | None = None,
    seed: int = 7,
    test_limit: int | None = None,
    knn_train: int = 10_000,
    reference: Path | None = None,
    sharpness: float | None = 1.0,
) -> dict:
    """Export and measure. The classifier is exported from `classifier_run` when it has a checkpoint,
    else the classifier.onnx already in `out` is kept as it is (its manifest entry carried over), so
    a new fashion space is judged by the same classifier as the old one."""
    t0 = time.time()
    replaced = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    if not (prior_run / PRIOR_FILE).exists():
        raise SystemExit(f"fse-train export: {prior_run / PRIOR_FILE} not found; fit it with `fse-train prior`")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prior_run / PRIOR_FILE, out / PRIOR_FILE)
    latent = LatentMap.load(out / PRIOR_FILE)
    prior_ckpt = load_checkpoint(prior_run / "checkpoint.pt")
    s_ckpt = load_checkpoint(space_run / "checkpoint.pt")
    s_cfg = from_dict(SpaceConfig, s_ckpt["config"])
    space = FashionSpace(s_cfg)
    space.load_state_dict(s_ckpt["model"])
    space.eval()

    image = torch.zeros(2, 1, 28, 28)
    if (classifier_run / "checkpoint.pt").exists():
        c_ckpt = load_checkpoint(classifier_run / "checkpoint.pt")
        clf_model = Classifier(from_dict(ClassifierConfig, c_ckpt["config"]))
        clf_model.load_state_dict(c_ckpt["model"])
        _export(ExportClassifier(clf_model.eval()), (image,), out, CLASSIFIER)
        classifier_training = {
            "config": c_ckpt["config"],
            "epochs_done": c_ckpt["epoch"],
            "train_seconds": round(c_ckpt.get("train_seconds", 0.0), 1),
            "command": c_ckpt.get("command", f"fse-train classifier --run {classifier_run}"),
        }
    elif (out / CLASSIFIER.file).exists() and (out / "manifest.json").exists():
        classifier_training = json.loads((out / "manifest.json").read_text())["training"]["classifier"]
    else:
        raise SystemExit(
            f"fse-train export: no classifier: {classifier_run}/checkpoint.pt is missing and "
            f"{out / CLASSIFIER.file} does not exist; train one with `fse-train classifier`"
        )

    def export_space(k: float = 1.0):
        _export(ExportEncoder(space), (image,), out, ENCODER)
        _export(
            ExportGenerator(space, k),
            (torch.zeros(2, LATENT_DIM), torch.from_numpy(coordinates(5, 7))),
            out,
            GENERATOR,
        )

    sharpness_trials = []
    test, train = load_split("test", data, test_limit), load_split("train", data)
    if sharpness is None:

        def sessions_at(k: float) -> FashionModels:
            export_space(k)
            return FashionModels.unverified(out, latent, VIEW_SCALE * s_cfg.coord_scale)

        sharpness, sharpness_trials = choose_sharpness(sessions_at, train, seed)
    export_space(sharpness)
    s = FashionModels.unverified(out, latent, VIEW_SCALE * s_cfg.coord_scale)
    from .train import evaluate_space

    recon = evaluate_space(space, torch.from_numpy(test.images))
    if "encoder_test_kl" in s_ckpt:  # a recovered run has no log-variance head; its frozen encoder's KL is known
        recon["test_kl"] = s_ckpt["encoder_test_kl"]
    q, z_test, z_train = measure(s, test, train, seed, knn_train, recon)
    q["sharpness_trials"] = sharpness_trials
    q["generator_per_pixel_macs"] = s_cfg.per_pixel_macs()
    if reference is not None:
        ref, _, _ = measure(FashionModels.unverified(reference), test, train, seed, knn_train, reference_bce(reference))
        ref_quality = json.loads((reference / "manifest.json").read_text())["quality"]
        ref["generator_per_pixel_macs"] = ref_quality.get("generator_per_pixel_macs", V1_PER_PIXEL_MACS)
        q["reference"] = {"models": str(reference), **ref}
    q["targets"] = targets(q, s_cfg.per_pixel_macs())

    landmarks = make_landmarks(z_test, test.labels, s, seed)
    write_landmarks(out, landmarks)
    parity = check_parity(space, sharpness, s, np.random.default_rng(seed))
    lo, hi = np.percentile(latent.to_sliders(z_train), [0.5, 99.5], axis=0)
    files = {}
    for spec in (ENCODER, GENERATOR, CLASSIFIER):
        p = out / spec.file
        files[spec.name] = {"file": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size, **_io(p)}
    files["landmarks"] = {"file": "landmarks.json", "sha256": sha256_file(out / "landmarks.json")}
    manifest = {
        "format": 1,
        "models": files,
        "latent": {
            "dim": LATENT_DIM,
            "map": (
                "sliders u in [-1, 1]^8 -> g = Phi^-1((u + 1) / 2) per dimension (|u| clipped to %.4f, |g| <= %g) "
                "-> z = flow(g), %d affine couplings fitted to the encoder means of the training images "
                "(contract.latent.LatentMap, weights in prior.npz) -> generator.onnx; encoder.onnx's z -> sliders "
                "by the exact inverse" % (U_LIMIT, G_LIMIT, latent.couplings)
            ),
            "prior": {
                "file": PRIOR_FILE,
                "sha256": sha256_file(out / PRIOR_FILE),
                "bytes": (out / PRIOR_FILE).stat().st_size,
                "config": prior_ckpt["config"],
                "test_nll_nats": prior_ckpt["history"][-1]["test_nll"],
                "train_seconds": prior_ckpt["train_seconds"],
                "command": prior_ckpt["command"],
            },
            "slider_range": [-1.0, 1.0],
            "data_range_0.5_99.5_pct": [lo.round(3).tolist(), hi.round(3).tolist()],
            "jump": "sliders uniform in [-1, 1]^8; kiosk.toml [explorer] jump_temperature T < 1 draws g from N(0, T^2)",
        },
        "rendering": {
            "sharpness": sharpness,
            "meaning": "the generator draws sigmoid(sharpness * logits); 1 = the trained decoder's mean",
        },
        "coordinates": {
            "function": "contract.space.coordinates(width, height, scale)",
            "scale": VIEW_SCALE * s_cfg.coord_scale,
            "training_scale": s_cfg.coord_scale,
            "meaning": "every view renders the square [-scale, scale]^2; the generator draws the garment on the "
            "training square and plain background outside it (faded over %g), so a garment keeps a margin"
            % SQUARE_FADE,
        },
        "classes": list(CLASS_NAMES),
        "training": {
            "space": {
                "config": s_ckpt["config"],
                "epochs_done": s_ckpt["epoch"],
                "train_seconds": round(s_ckpt.get("train_seconds", 0.0), 1),
                "command": s_ckpt.get("command", f"fse-train space --run {space_run}"),
                # a run rebuilt from ONNX files (fse-train recover): where from, and how that model was trained
                **{k: s_ckpt[k] for k in ("recovered_from", "history") if k in s_ckpt},
            },
            "classifier": classifier_training,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}",
        },
        "dataset": {"name": "Fashion-MNIST", "sha256": dataset_checksum(data)},
        "quality": q,
        "parity_max_abs": parity,
        "export": {
            "command": "fse-train export " + " ".join(sys.argv[2:])
            if sys.argv[1:2] == ["export"]
            else "fse-train export",
            "seconds": round(time.time() - t0, 1),
            "opset": OPSET,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
        },
    }
    spaces, notes = carried_spaces(replaced, manifest)
    if spaces:
        manifest["latent"]["earlier_spaces"] = spaces
    for note in notes:
        print(f"fse-train export: {note}", file=sys.stderr)
    add_prints(manifest, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def carried_spaces(replaced: dict | None, manifest: dict) -> tuple[list, list[str]]:
    """The `latent.earlier_spaces` of the models this export replaces, kept when they are the same
    network (the encoder's bytes unchanged: the export is deterministic), so capture logs written
    with those maps are still read (contract.latent.PositionSpaces); with notes for what is lost.

    Another network: its earlier maps are dropped (those positions are another network's designs).
    The same network under a new latent map: logs written with the replaced map can no longer be
    placed by these models; the note says so and how to keep reading them."""
    if not replaced:
        return [], []
    earlier = replaced.get("latent", {}).get("earlier_spaces", [])
    old_name = replaced.get("export", {}).get("command", "the replaced models")
    same_network = replaced["models"]["encoder"]["sha256"] == manifest["models"]["encoder"]["sha256"]
    if not same_network:
        names = ", ".join(str(e.get("models")) for e in earlier)
        return [], [
            f"a new network replaces the models in this folder ({old_name}): capture logs written with them"
            + (f" or with {names}" if names else "")
            + " are placed only by those models; keep a copy of the folder to read them (fse-analyze --models COPY)"
        ]
    notes = []
    if replaced["latent"].get("prior", {}).get("sha256") != manifest["latent"].get("prior", {}).get("sha256"):
        notes.append(
            "the same network under a new latent map (prior.npz changed): capture logs written with the replaced "
            "map are placed only by the replaced models; keep a copy of the folder to read them"
        )
    return list(earlier), notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fse-train export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--space", type=Path, default=Path("runs/space"), help="fashion-space run directory")
    p.add_argument("--classifier", type=Path, default=Path("runs/classifier"), help="classifier run directory")
    p.add_argument("--out", type=Path, default=Path("onnx_models"))
    p.add_argument("--data", help="Fashion-MNIST directory")
    p.add_argument("--prior", type=Path, default=Path("runs/prior"), help="the prior's run directory (fse-train prior)")
    p.add_argument("--sharpness", type=float, help="skip the rule (choose_sharpness) and use this k; 1 = none")
    p.add_argument("--test-limit", type=int, help="evaluate on the first N test images (tests only)")
    p.add_argument(
        "--reference",
        type=Path,
        help="an older models folder measured the same way, in the same run (before/after figures)",
    )
    args = p.parse_args(argv)
    if not (args.space / "checkpoint.pt").exists():
        print(
            f"fse-train export: {args.space}/checkpoint.pt not found; train it first with `fse-train space`",
            file=sys.stderr,
        )
        return 2
    m = export_all(
        args.space,
        args.classifier,
        args.out,
        args.prior,
        args.data,
        test_limit=args.test_limit,
        reference=args.reference,
        sharpness=args.sharpness,
    )
    q = m["quality"]
    print(
        json.dumps(
            {
                k: q[k]
                for k in (
                    "reconstruction_bce_nats",
                    "kl_nats",
                    "latent_knn5_accuracy",
                    "reconstruction",
                    "ripple",
                    "generator_per_pixel_macs",
                )
            },
            indent=1,
        )
    )
    print(json.dumps(q["hyperspace_jump"]), json.dumps(q["targets"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
