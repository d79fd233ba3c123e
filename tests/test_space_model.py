"""The CPPN-VAE-GAN in PyTorch: geometry, resolution independence, the quick training run and export."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from contract.models import sha256_file
from contract.space import coordinates
from training import cli
from training.config import SpaceConfig, quick
from training.cppn_vae import FashionSpace


def test_coordinates_span_the_same_square_at_any_resolution():
    for w, h in ((28, 28), (256, 256), (640, 480)):
        g = coordinates(w, h)
        assert g.shape == (h, w, 3) and g.dtype == np.float32
        assert g[0, 0, 0] == -1 and g[-1, -1, 0] == 1 and g[0, 0, 1] == -1 and g[-1, -1, 1] == 1
        np.testing.assert_allclose(g[..., 2], np.hypot(g[..., 0], g[..., 1]), rtol=1e-6)
    with pytest.raises(ValueError):
        coordinates(0, 5)


def test_generator_renders_one_design_at_any_resolution_smoothly():
    torch.manual_seed(0)
    model = FashionSpace(quick(SpaceConfig())).eval()
    z = torch.randn(3, 8)
    with torch.no_grad():
        small = model.generator(z, model.grid(28, 28))
        big = model.generator(z, model.grid(1024, 1024))
    assert small.shape == (3, 28, 28) and big.shape == (3, 1024, 1024)
    # The 1024 render sampled at the 28 grid's points is the 28 render (same function, more samples).
    idx = np.round(np.linspace(0, 1023, 28)).astype(int)
    np.testing.assert_allclose(big[:, idx][:, :, idx].numpy(), small.numpy(), atol=0.02)
    # Smooth, not pixelated: neighbouring pixels at 1024 differ far less than at 28.
    assert big.diff(dim=2).abs().max() < small.diff(dim=2).abs().max() / 5 + 1e-6


def test_z_styles_are_per_image_and_broadcast_not_tiled():
    """The mapping network turns z into a FiLM scale and shift per layer once per image, (B, 1, w);
    the coordinate features are computed once per pixel, (1, N, w), and the two only meet by broadcasting."""
    model = FashionSpace(SpaceConfig())
    z = torch.randn(3, 8)
    styles = model.generator.styles(z)
    assert len(styles) == 1 + SpaceConfig().gen_layers
    assert all(scale.shape == (3, 1, 64) and shift.shape == (3, 1, 64) for scale, shift in styles)
    seen = {}

    def record(module, inputs, output):
        seen["coords"] = output.shape

    model.generator.fourier.register_forward_hook(record)
    assert model.generator.logits(z, model.grid(28, 28)).shape == (3, 28, 28)
    assert seen["coords"] == (28 * 28, model.generator.fourier.out_features)  # once per pixel, not per image
    # A fresh model starts as a plain CPPN (scale 1, shift 0) so early training is stable.
    assert all(
        torch.allclose(sc, torch.ones_like(sc)) and torch.allclose(sh, torch.zeros_like(sh)) for sc, sh in styles
    )


def test_film_folded_into_the_weights_is_film_after_the_layer():
    """`modulated` computes (h W^T + b) * scale + shift with the scale folded into per-image weights;
    the Fourier features' single Sin (cos x = sin(x + pi/2)) is sin and cos."""
    from training.cppn_vae import modulated

    torch.manual_seed(0)
    layer = torch.nn.Linear(7, 5)
    h, scale, shift = torch.randn(1, 11, 7), torch.randn(3, 1, 5), torch.randn(3, 1, 5)
    assert torch.allclose(modulated(layer, h, scale, shift), layer(h) * scale + shift, atol=1e-5)
    assert torch.allclose(modulated(layer, h, None, shift), layer(h) + shift)
    fourier = FashionSpace(SpaceConfig()).generator.fourier
    coords = torch.from_numpy(coordinates(9, 4)).reshape(-1, 3)
    phase = coords[:, :2] @ fourier.freqs.T
    expected = torch.cat([coords, torch.sin(phase), torch.cos(phase)], dim=1)
    assert torch.allclose(fourier(coords), expected, atol=1e-5)


def test_fourier_features_are_fixed_low_and_isotropic():
    """The frequencies live in the weights (export and every resolution see the same ones), point in
    all directions rather than along the axes (no plaid banding), and stay low (a few cycles per image)."""
    cfg = SpaceConfig()
    model = FashionSpace(cfg)
    freqs = model.generator.fourier.freqs / (2 * np.pi)  # (F, 2) cycles per unit
    assert "generator.fourier.freqs" in model.state_dict()
    assert torch.equal(FashionSpace(cfg).generator.fourier.freqs, model.generator.fourier.freqs)  # seeded
    angles = torch.atan2(freqs[:, 1], freqs[:, 0]).remainder(np.pi / 2)
    assert (angles.sub(np.pi / 4).abs() < np.pi / 4 - 0.05).float().mean() > 0.5  # mostly off the axes
    assert freqs.norm(dim=1).max() < 4 * cfg.fourier_sigma


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    assert cli.main(["space", "--quick", "--run", str(d / "space"), "--no-progress"]) == 0
    assert cli.main(["classifier", "--quick", "--run", str(d / "classifier"), "--no-progress"]) == 0
    assert cli.main(["prior", "--quick", "--space", str(d / "space"), "--run", str(d / "prior")]) == 0
    return d


def test_quick_training_writes_metrics_and_checkpoint(quick_runs):
    lines = [json.loads(x) for x in (quick_runs / "space" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in lines] == ["feature_net", "vae", "gan"]  # the perceptual term's net first
    assert all(np.isfinite(r["test_bce"]) and np.isfinite(r["train_perceptual"]) for r in lines[1:])
    assert (quick_runs / "space" / "feature_net.pt").exists()
    ckpt = torch.load(quick_runs / "space" / "checkpoint.pt", weights_only=False)
    assert ckpt["config"]["gen_width"] == 16 and ckpt["epoch"] == 2


def test_resume_continues_from_the_checkpoint(quick_runs, capsys):
    run = quick_runs / "space"
    before = len((run / "metrics.jsonl").read_text().splitlines())
    assert cli.main(["space", "--quick", "--resume", "--run", str(run), "--gan-epochs", "2", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == before + 1 and json.loads(lines[-1])["epoch"] == 3


def test_bad_data_dir_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["space", "--quick", "--run", str(tmp_path / "r"), "--data", str(tmp_path / "none")]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_export_and_sheet_are_fse_train_subcommands(tmp_path, capsys):
    """`fse-train export` and `fse-train sheet` reach their modules' own parsers (the booth's fse-export
    no longer exports models, and fse-sheet is gone)."""
    for name, option in (("export", "--classifier"), ("sheet", "--compare")):
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert f"usage: fse-train {name}" in out and option in out
    assert cli.main(["export", "--space", str(tmp_path / "none"), "--out", str(tmp_path / "m")]) == 2
    with pytest.raises(SystemExit, match="train or recover the space first"):
        cli.main(["prior", "--space", str(tmp_path / "none"), "--run", str(tmp_path / "p")])
    assert "fse-train export: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "export" in capsys.readouterr().out


@pytest.fixture(scope="module")
def quick_models(quick_runs, tmp_path_factory):
    from training.export import export_all

    out = tmp_path_factory.mktemp("models")
    return out, export_all(quick_runs / "space", quick_runs / "classifier", out, quick_runs / "prior", test_limit=300)


def test_export_checks_parity_and_writes_the_manifest(quick_models):
    out, m = quick_models
    for name in ("encoder", "generator", "classifier"):
        path = out / f"{name}.onnx"
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        assert m["models"][name]["opset"] <= 17
    assert m["parity_max_abs"]["generator_28"] <= 1e-4 and m["parity_max_abs"]["generator_256"] <= 1e-4
    assert m["parity_max_abs"]["encoder"] <= 1e-4 and m["parity_max_abs"]["sliders_round_trip"] <= 1e-4
    prior = m["latent"]["prior"]
    assert prior["sha256"] == sha256_file(out / prior["file"]) and prior["command"].startswith("fse-train prior")
    # Dynamic batch and resolution in the exported generator.
    gen = ort.InferenceSession(str(out / "generator.onnx"), providers=["CPUExecutionProvider"])
    for b, (w, h) in ((1, (33, 17)), (5, (64, 64))):
        y = gen.run(None, {"z": np.zeros((b, 8), np.float32), "coords": coordinates(w, h)})[0]
        assert y.shape == (b, h, w) and 0 <= y.min() and y.max() <= 1
    lm = json.loads((out / "landmarks.json").read_text())["landmarks"]
    assert len(lm) >= 12 and all(len(x["z"]) == 8 for x in lm)
    q = m["quality"]
    for key in (
        "reconstruction_bce_nats",
        "kl_nats",
        "latent_knn5_accuracy",
        "classifier_test_accuracy",
        "hyperspace_jump",
        "reconstruction",
        "ripple",
        "outline",
        "generator_per_pixel_macs",
        "targets",
    ):
        assert key in q
    assert q["outline"]["jumps"]["shown"]["designs"] > 0 and "outline_width_jumps_1024px<=8px" in q["targets"]
    assert 0 <= q["reconstruction"]["classifier_on_reconstructions"] <= 1
    assert q["hyperspace_jump"]["frechet_logits_to_photos"] >= 0 and q["ripple"]["interior_ripple_1024"] >= 0
    assert q["targets"]["per_pixel_macs<=1.5x_v1"]
    from kiosk.models import FashionModels

    models = FashionModels.load(out)
    assert models.encode(np.zeros((2, 28, 28))).shape == (2, 8)


def test_recover_rebuilds_a_run_from_the_onnx_files_and_polishes_it(quick_models, tmp_path, capsys):
    """Checkpoints do not outlive a machine; the shipped ONNX files do. `fse-train recover` rebuilds the
    encoder and generator exactly (the exporter folds BatchNorm and transposes weights), and the run
    can then be trained on only in the polish phase, which needs neither of what is lost."""
    from training.export import ExportEncoder, ExportGenerator
    from training.train import load_checkpoint

    out, manifest = quick_models
    run = tmp_path / "recovered"
    with pytest.raises(SystemExit, match="manifest.json not found"):
        cli.main(["recover", "--models", str(tmp_path), "--run", str(run)])
    assert cli.main(["recover", "--models", str(out), "--run", str(run)]) == 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    model = FashionSpace(quick(SpaceConfig()))
    model.load_state_dict(ckpt["model"])
    model.eval()
    k = manifest["rendering"]["sharpness"]
    z, coords = np.random.default_rng(1).uniform(-1, 1, (4, 8)).astype(np.float32), coordinates(31, 17)
    shipped = ort.InferenceSession(str(out / "generator.onnx")).run(None, {"z": z, "coords": coords})[0]
    rebuilt = ExportGenerator(model, k)(torch.from_numpy(z), torch.from_numpy(coords)).detach().numpy()
    assert np.abs(shipped - rebuilt).max() < 1e-5
    image = np.random.default_rng(2).random((3, 1, 28, 28), dtype=np.float32)
    shipped = ort.InferenceSession(str(out / "encoder.onnx")).run(None, {"image": image})[0]
    rebuilt = ExportEncoder(model)(torch.from_numpy(image)).detach().numpy()
    assert np.abs(shipped - rebuilt).max() < 1e-5
    assert ckpt["encoder_test_kl"] == manifest["quality"]["kl_nats"]
    assert ckpt["recovered_from"]["generator_sha256"] == manifest["models"]["generator"]["sha256"]
    with pytest.raises(SystemExit, match="exists; choose a new --run"):
        cli.main(["recover", "--models", str(out), "--run", str(run)])

    with pytest.raises(SystemExit, match="only polish epochs"):
        cli.main(["space", "--quick", "--resume", "--run", str(run), "--epochs", "5", "--no-progress"])
    assert (
        cli.main(["space", "--quick", "--resume", "--run", str(run), "--set", "polish_epochs=1", "--no-progress"]) == 0
    )
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["phase"] == "polish" and last["epoch"] == ckpt["epoch"] + 1 and np.isfinite(last["train_edge"])
    polished = FashionSpace(quick(SpaceConfig()))
    polished.load_state_dict(load_checkpoint(run / "checkpoint.pt")["model"])
    for name, value in polished.encoder.state_dict().items():  # the latent does not move
        assert torch.equal(value, model.encoder.state_dict()[name]), name
    assert any(not torch.equal(a, b) for a, b in zip(polished.generator.parameters(), model.generator.parameters()))
    # The super-resolution polish (issue 23): a subset per epoch, each pixel drawn as 2x2 sub-pixels.
    more = ["--set", "polish_epochs=2", "--set", "polish_supersample=2", "--set", "sharp_weight=0.5"]
    assert cli.main(["space", "--quick", "--resume", "--run", str(run), *more, "--set", "polish_subset=64"]) == 0
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["polish_epoch"] == 2 and last["train_sharp"] > 0 and np.isfinite(last["test_bce_pooled"])


def test_the_one_blur_is_a_gaussian_of_any_sigma_that_does_not_wrap_around():
    """Training had three blurs (a separable one for the classifier, two box blurs for the print
    impostors, an FFT one for the ripple figure); training/blur.py is the one now."""
    from training.blur import gaussian_blur

    impulse = torch.zeros(1, 3, 64, 64)
    impulse[..., 32, 32] = 1.0
    for sigma in (0.5, 2.0, 3.7):
        out = gaussian_blur(impulse, sigma)
        assert out.shape == impulse.shape and out.sum().item() == pytest.approx(3.0, abs=1e-4)
        r = torch.arange(64.0) - 32
        spread = (out[0, 0].sum(0) * r**2).sum().sqrt().item()
        assert spread == pytest.approx(sigma, rel=0.03), "a Gaussian of that sigma"
    top = torch.zeros(1, 28, 28)
    top[:, :2] = 1.0  # a garment touching the top edge
    assert gaussian_blur(top, 1.2)[:, -6:].abs().max() < 1e-3, "nothing wraps around to the bottom"
    x = torch.rand(2, 28, 28, requires_grad=True)
    gaussian_blur(x, 1.0).sum().backward()
    assert x.grad is not None


def test_edge_shortfall_charges_soft_edges_only():
    """The polish phase's edge term: zero for the photo itself or anything with edges at least as
    hard, positive for a blurred copy, and the sign of an edge (which way a hem steps) is free."""
    from training import losses
    from training.blur import gaussian_blur

    photo = torch.zeros(1, 28, 28)
    photo[:, 8:20, 10:18] = 1.0  # a hard-edged garment
    blurred = gaussian_blur(photo.unsqueeze(1), 1.0).squeeze(1)
    assert losses.edge_shortfall(photo, photo) == 0
    assert losses.edge_shortfall(1 - photo, photo) == 0  # the same outline stepping the other way
    assert losses.edge_shortfall(blurred, photo) > 10


def test_super_resolution_terms_judge_the_pixel_average_and_prefer_one_sharp_step():
    """The super-resolution polish (issue 23): BCE of each 28 px pixel's sub-sample average, which a
    sharp sub-pixel edge can match as well as a soft one, and a prior that then picks the sharp one;
    and the sub-pixel grid whose blocks average to the 28 px pixels."""
    from training import losses

    photo = torch.rand(2, 28, 28)
    logits = torch.randn(2, 28, 28) * 3
    flat = logits.repeat_interleave(4, 1).repeat_interleave(4, 2)  # every sub-pixel as its pixel
    assert torch.allclose(losses.pooled_bce(flat, photo, 4), losses.reconstruction_bce(logits, photo), rtol=1e-4)
    stripes = torch.full((1, 112, 112), -30.0)
    stripes[..., ::2] = 30.0  # sub-pixel columns surely 0 and surely 1: each pixel's average is grey
    grey = torch.full((1, 28, 28), 0.5)
    assert losses.pooled_bce(stripes, grey, 4).item() == pytest.approx(28 * 28 * np.log(2), rel=1e-3)

    x = torch.linspace(-1, 1, 112).expand(1, 112, 112)
    soft, sharp = torch.sigmoid(x * 4), torch.sigmoid(x * 400)  # the same step, 0.5 and 0.005 wide
    cost = [losses.gradient_sparsity(d, exponent=0.5, eps=0.01, factor=4).item() for d in (soft, sharp)]
    assert cost[1] < 0.6 * cost[0]
    assert losses.gradient_sparsity(torch.full((1, 112, 112), 0.3), 0.5, 0.01, 4) == 0  # flat costs nothing

    model = FashionSpace(quick(SpaceConfig()))
    fine = model.supersampled_grid(4)  # (112, 112, 3)
    pooled = torch.nn.functional.avg_pool2d(fine[..., :2].permute(2, 0, 1), 4).permute(1, 2, 0)
    assert torch.allclose(pooled, model.grid28[..., :2], atol=1e-6)  # blocks centred on the 28 px pixels


def test_a_reexport_keeps_the_earlier_latent_maps_only_for_the_same_network(root):
    """Capture logs name the latent map they were written in; the manifest lists the earlier maps these
    models still read (latent.earlier_spaces, e.g. v2.1's). A re-export of the same network into its
    folder keeps that list; another network drops it and says how to keep reading those logs."""
    from training.export import carried_spaces

    shipped = json.loads((root / "onnx_models" / "manifest.json").read_text())
    earlier = shipped["latent"]["earlier_spaces"]
    assert earlier, "the shipped models read v2.1's logs"
    same = json.loads(json.dumps(shipped))
    del same["latent"]["earlier_spaces"]  # as the exporter writes a manifest, before this step
    assert carried_spaces(shipped, same) == (earlier, [])
    assert carried_spaces(None, same) == ([], [])

    new_map = json.loads(json.dumps(same))
    new_map["latent"]["prior"]["sha256"] = "0" * 64
    spaces, notes = carried_spaces(shipped, new_map)
    assert spaces == earlier and len(notes) == 1 and "new latent map" in notes[0]

    other = json.loads(json.dumps(same))
    other["models"]["encoder"]["sha256"] = "1" * 64
    spaces, notes = carried_spaces(shipped, other)
    assert spaces == [] and len(notes) == 1
    assert "v2.1" in notes[0] and "fse-analyze --models" in notes[0]
