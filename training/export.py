"""`fse-train export`: the trained models -> ONNX files, landmarks and the manifest the kiosk reads.

    fse-train export --space runs/space --classifier runs/classifier --out onnx_models [--reference OLD_MODELS]

Writes encoder.onnx, generator.onnx, classifier.onnx (opset 17, dynamic batch and resolution),
landmarks.json and manifest.json (files with sha256, input/output names, shapes and dtypes,
training config, dataset checksum, command, wall time and the quality figures measured on the
10k test set). Every model is checked with `onnx.checker` (full check) and against PyTorch.

The exported latent (the 8 parameters the kiosk shows, each in [-1, 1]) is the internal one
squashed per dimension: u = tanh(z / latent_scale), so z = latent_scale * atanh(u). With
latent_scale = 2*sqrt(3)/pi ~ 1.10 a uniform u makes z logistic with unit variance, close to the
VAE's N(0, 1) prior: the hyperspace jump (u uniform in [-1, 1]^8, as in the original) then
samples the prior, and reaches the classes (trousers!) that sit far out in an unshaped latent.
The scale is chosen by a rule (see `choose_latent_scale`).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from contract.fashion_mnist import CLASS_NAMES, dataset_checksum, load_split
from contract.models import CLASSIFIER, ENCODER, GENERATOR, sha256_file
from contract.space import LATENT_DIM, coordinates

from . import metrics, quality
from .classifier import Classifier
from .config import ClassifierConfig, SpaceConfig, from_dict
from .cppn_vae import FashionSpace
from .prints.export import add_prints
from .train import load_checkpoint

OPSET = 17  # TensorRT 8.5/8.6 on JetPack 5 stops at 17
PRIOR_MATCHED_SCALE = 2 * 3**0.5 / np.pi  # logistic with unit variance
SCALE_CANDIDATES = (PRIOR_MATCHED_SCALE, 0.9, 1.3, 1.5, 1.8)
U_LIMIT = 0.98  # atanh(1) is infinite: the generator clips u to +-U_LIMIT (z within +-2.3 scale)
JUMP_SAMPLES = 2000
MIN_CLASS_FRACTION = 0.01
MIN_JUMP_ENTROPY = 2.1
SHARPNESS_CANDIDATES = (1.0, 1.25, 1.5, 1.75, 2.0)
V1_PER_PIXEL_MACS = 16_960  # the v1 generator (z as one bias per layer, no Fourier features): the cost budget's base


class ExportEncoder(nn.Module):
    """image (B, 1, 28, 28) in [0, 1] -> z (B, 8): the posterior mean as the kiosk's parameters in (-1, 1)."""

    def __init__(self, model: FashionSpace, latent_scale: float):
        super().__init__()
        self.encoder = model.encoder
        self.inv_scale = 1.0 / latent_scale

    def forward(self, image):
        mean, _ = self.encoder(image)
        return torch.tanh(mean * self.inv_scale)


class ExportGenerator(nn.Module):
    """z (B, 8) kiosk parameters in [-1, 1], coords (H, W, 3) from contract.space.coordinates -> design (B, H, W).

    `sharpness` k renders sigmoid(k * logits): the Bernoulli decoder's output is the mean of what the
    pixel could be, greyest where it is least sure; k > 1 draws the likelier side more firmly (the
    way a temperature below 1 does for a language model). k = 1 is the trained model unchanged."""

    def __init__(self, model: FashionSpace, latent_scale: float, sharpness: float = 1.0):
        super().__init__()
        self.generator = model.generator
        self.scale = latent_scale
        self.sharpness = sharpness

    def forward(self, z, coords):
        u = torch.clamp(z, -U_LIMIT, U_LIMIT)
        internal = (0.5 * self.scale) * torch.log((1 + u) / (1 - u))  # scale * atanh(u); ONNX has no atanh export
        logits = self.generator.logits(internal, coords)
        return torch.sigmoid(logits * self.sharpness if self.sharpness != 1.0 else logits)


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


def check_parity(
    space: FashionSpace, latent_scale: float, sharpness: float, s: quality.SpaceSessions, rng: np.random.Generator
) -> dict:
    """Max |onnxruntime - PyTorch| for the generator at 28x28 and 256x256 and the encoder."""
    wrapper = ExportGenerator(space, latent_scale, sharpness).eval()
    z = rng.uniform(-1, 1, (4, LATENT_DIM)).astype(np.float32)
    result = {}
    for size in (28, 256):
        with torch.no_grad():
            ref = wrapper(torch.from_numpy(z), torch.from_numpy(coordinates(size, size, space.cfg.coord_scale))).numpy()
        result[f"generator_{size}"] = float(np.abs(ref - s.generate(z, size)).max())
    images = rng.uniform(0, 1, (4, 28, 28)).astype(np.float32)
    with torch.no_grad():
        ref = ExportEncoder(space, latent_scale).eval()(torch.from_numpy(images[:, None])).numpy()
    result["encoder"] = float(np.abs(ref - s.encode(images)).max())
    return result


def jump_coverage(s: quality.SpaceSessions, rng: np.random.Generator, n: int = JUMP_SAMPLES) -> dict:
    """Classes reached by `n` hyperspace jumps (z uniform in [-1, 1]^8), labelled by the classifier."""
    z = rng.uniform(-1, 1, (n, LATENT_DIM)).astype(np.float32)
    return metrics.class_coverage(s.logits(s.generate(z)).argmax(1))


def choose_latent_scale(export_space, out: Path, seed: int) -> tuple[float, list]:
    """The rule: the prior-matched scale first, then the other candidates; the first at which jumps
    reach all 10 classes with >= 1% each and entropy >= MIN_JUMP_ENTROPY wins; if none does, the one
    with the most classes and highest entropy. `export_space(scale)` writes the ONNX files to `out`."""
    trials = []
    for scale in SCALE_CANDIDATES:
        export_space(scale)
        cov = jump_coverage(quality.SpaceSessions(out), np.random.default_rng(seed))
        trials.append({"scale": scale, **{k: cov[k] for k in ("classes_at_least_1pct", "entropy_nats", "fractions")}})
        if cov["classes_at_least_1pct"] == 10 and cov["entropy_nats"] >= MIN_JUMP_ENTROPY:
            return scale, trials
    best = max(trials, key=lambda t: (t["classes_at_least_1pct"], t["entropy_nats"]))
    return best["scale"], trials


def make_landmarks(
    z_test: np.ndarray,
    labels: np.ndarray,
    s: quality.SpaceSessions,
    seed: int,
    per_class: int = 1000,
    n_blends: int = 4,
) -> list[dict]:
    """Each class's medoid in z of the encoded test set, then `n_blends` k-means centres of the
    whole test set named by the classifier's two most likely classes for the design found there."""
    rng = np.random.default_rng(seed)
    out = []
    for c, name in enumerate(CLASS_NAMES):
        pts = z_test[labels == c]
        pts = pts[rng.permutation(len(pts))[:per_class]]
        out.append({"name": name, "kind": "class-medoid", "class": c, "z": pts[metrics.medoid(pts)].round(4).tolist()})
    centres = kmeans(z_test, n_blends, rng).astype(np.float32)
    for centre, lg in zip(centres, s.logits(s.generate(centres))):
        top = np.argsort(-lg)[:2]
        out.append(
            {
                "name": f"{CLASS_NAMES[top[0]]} / {CLASS_NAMES[top[1]]}",
                "kind": "k-means-centre",
                "class": int(top[0]),
                "z": centre.round(4).tolist(),
            }
        )
    return out


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 50) -> np.ndarray:
    centres = x[rng.choice(len(x), k, replace=False)]
    for _ in range(iters):
        assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([x[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
    return centres


def choose_sharpness(export_generator, train, seed: int, n: int = 2000) -> tuple[float, list]:
    """The rule: the k in SHARPNESS_CANDIDATES whose reconstructions of `n` TRAINING images (never the
    test set the figures are measured on) the classifier recognises best; ties go to the smaller k.
    `export_generator(k)` writes generator.onnx with that k and returns the sessions."""
    idx = np.random.default_rng(seed).choice(len(train.images), n, replace=False)
    images, labels = train.images[idx], train.labels[idx]
    trials = []
    for k in SHARPNESS_CANDIDATES:
        fig = quality.reconstruction_figures(export_generator(k), images, labels)
        trials.append(
            {
                "sharpness": k,
                "classifier_on_reconstructions": fig["classifier_on_reconstructions"],
                "edge_ratio_reconstructions": round(fig["edge_ratio_reconstructions"], 4),
            }
        )
    best = max(trials, key=lambda t: (round(t["classifier_on_reconstructions"], 3), -t["sharpness"]))
    return best["sharpness"], trials


def targets(q: dict, per_pixel_macs: int) -> dict:
    """Each figure against its goal (issue 11); the ones measured against the reference models only
    when `--reference` was given."""
    rec, jumps = q["reconstruction"], q["hyperspace_jump"]
    t = {
        "classifier_on_reconstructions>=0.80": rec["classifier_on_reconstructions"] >= 0.80,
        "classifier_on_photos>=0.91": rec["classifier_on_photos"] >= 0.91,
        "edge_ratio_reconstructions>=0.80": rec["edge_ratio_reconstructions"] >= 0.80,
        "edge_ratio_jumps>=0.80": jumps["edge_ratio"] >= 0.80,
        "latent_knn5_accuracy>=0.82": q["latent_knn5_accuracy"] >= 0.82,
        "jump_all_10_classes_>=1%": jumps["classes_at_least_1pct"] == 10,
        f"jump_entropy>={MIN_JUMP_ENTROPY}": jumps["entropy_nats"] >= MIN_JUMP_ENTROPY,
        "per_pixel_macs<=1.5x_v1": per_pixel_macs <= 1.5 * V1_PER_PIXEL_MACS,
    }
    ref = q.get("reference")
    if ref:
        t["reconstruction_bce<=reference"] = q["reconstruction_bce_nats"] <= ref["reconstruction_bce_nats"] + 0.5
        t["jump_frechet<=half_of_reference"] = (
            jumps["frechet_logits_to_photos"] <= 0.5 * ref["hyperspace_jump"]["frechet_logits_to_photos"]
        )
        for size in quality.RIPPLE_SIZES:
            key = f"interior_ripple_{size}"
            t[f"{key}<=reference"] = q["ripple"][key] <= ref["ripple"][key]
    return t


def measure(out: Path, test, train, seed: int, knn_train: int, recon_bce: dict | None = None) -> dict:
    """The quality figures of the ONNX models in `out` (also used for `--reference`, so both compare)."""
    s = quality.SpaceSessions(out)
    rng = np.random.default_rng(seed)
    subset = rng.choice(len(train.images), min(knn_train, len(train.images)), replace=False)
    z_test, z_train = s.encode(test.images), s.encode(train.images)
    figures = quality.space_quality(out, test.images, test.labels, seed)
    q = {
        "test_images": len(test.images),
        "latent_knn5_accuracy": metrics.knn_accuracy(z_train[subset], train.labels[subset], z_test, test.labels),
        "latent_knn5_accuracy_all_60k": metrics.knn_accuracy(z_train, train.labels, z_test, test.labels),
        "knn_train_subset": int(len(subset)),
        "classifier_test_accuracy": figures["reconstruction"]["classifier_on_photos"],
        "reconstruction": figures["reconstruction"],
        "hyperspace_jump": figures["jumps"],
        "ripple": figures["ripple"],
    }
    if recon_bce:
        q["reconstruction_bce_nats"] = round(recon_bce["test_bce"], 3)
        q["kl_nats"] = round(recon_bce["test_kl"], 3)
    return q, z_test, z_train


def reference_bce(reference: Path) -> dict:
    """A reference's BCE and KL come from its own manifest (the PyTorch model isn't here)."""
    q = json.loads((reference / "manifest.json").read_text())["quality"]
    return {"test_bce": q["reconstruction_bce_nats"], "test_kl": q["kl_nats"]}


def export_all(
    space_run: Path,
    classifier_run: Path,
    out: Path,
    data: str | None = None,
    latent_scale: float | None = None,
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
    out.mkdir(parents=True, exist_ok=True)
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

    def export_space(scale: float, k: float = 1.0):
        _export(ExportEncoder(space, scale), (image,), out, ENCODER)
        _export(
            ExportGenerator(space, scale, k),
            (torch.zeros(2, LATENT_DIM), torch.from_numpy(coordinates(5, 7))),
            out,
            GENERATOR,
        )

    trials, sharpness_trials = [], []
    if latent_scale is None:
        latent_scale, trials = choose_latent_scale(export_space, out, seed)
    test, train = load_split("test", data, test_limit), load_split("train", data)
    if sharpness is None:

        def sessions_at(k: float) -> quality.SpaceSessions:
            export_space(latent_scale, k)
            return quality.SpaceSessions(out)

        sharpness, sharpness_trials = choose_sharpness(sessions_at, train, seed)
    export_space(latent_scale, sharpness)
    from .train import evaluate_space

    recon = evaluate_space(space, torch.from_numpy(test.images))
    if "encoder_test_kl" in s_ckpt:  # a recovered run has no log-variance head; its frozen encoder's KL is known
        recon["test_kl"] = s_ckpt["encoder_test_kl"]
    q, z_test, z_train = measure(out, test, train, seed, knn_train, recon)
    q["latent_scale_trials"] = trials
    q["sharpness_trials"] = sharpness_trials
    q["generator_per_pixel_macs"] = s_cfg.per_pixel_macs()
    if reference is not None:
        ref, _, _ = measure(reference, test, train, seed, knn_train, reference_bce(reference))
        ref["generator_per_pixel_macs"] = V1_PER_PIXEL_MACS
        q["reference"] = {"models": str(reference), **ref}
    q["targets"] = targets(q, s_cfg.per_pixel_macs())

    s = quality.SpaceSessions(out)
    landmarks = make_landmarks(z_test, test.labels, s, seed)
    (out / "landmarks.json").write_text(
        json.dumps({"rule": make_landmarks.__doc__.strip(), "landmarks": landmarks}, indent=1) + "\n"
    )
    parity = check_parity(space, latent_scale, sharpness, s, np.random.default_rng(seed))
    lo, hi = np.percentile(z_train, [0.5, 99.5], axis=0)
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
            "latent_scale": latent_scale,
            "shaping": "u = tanh(z / latent_scale); the generator clips u to +-%g" % U_LIMIT,
            "slider_range": [-1.0, 1.0],
            "data_range_0.5_99.5_pct": [lo.round(3).tolist(), hi.round(3).tolist()],
            "jump": "uniform in [-1, 1]^8",
        },
        "rendering": {
            "sharpness": sharpness,
            "meaning": "the generator draws sigmoid(sharpness * logits); 1 = the trained decoder's mean",
        },
        "coordinates": {"function": "contract.space.coordinates(width, height, scale)", "scale": s_cfg.coord_scale},
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
    add_prints(manifest, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fse-train export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--space", type=Path, default=Path("runs/space"), help="fashion-space run directory")
    p.add_argument("--classifier", type=Path, default=Path("runs/classifier"), help="classifier run directory")
    p.add_argument("--out", type=Path, default=Path("onnx_models"))
    p.add_argument("--data", help="Fashion-MNIST directory")
    p.add_argument("--latent-scale", type=float, help="skip the rule and use this scale")
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
        args.data,
        args.latent_scale,
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
