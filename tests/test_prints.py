"""The prints: .pat reader, generated textures, the pipeline's mask and shading, training, export
and the kiosk wrapper. Real files throughout: GIMP's patterns from gimp-data, Fashion-MNIST, real
onnxruntime sessions (a --quick model trained in the test, and the shipped onnx_models/prints.onnx).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kiosk.prints import NONE, PrintError, Prints  # noqa: E402
from kiosk.prints import main as stylize_main  # noqa: E402
from training.prints import textures  # noqa: E402
from training.prints.gimp_pat import PatternError, read_pat  # noqa: E402
from training.prints.pipeline import BACKGROUND, garment_mask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "onnx_models"
LEOPARD = textures.GIMP_DIR / "Animal/leopard.pat"


# --- the .pat reader ---------------------------------------------------------------------------


def test_reads_a_real_gimp_pattern():
    pat = read_pat(LEOPARD)
    assert pat.name == "Leopard"
    assert pat.pixels.shape == (62, 64, 3) and pat.pixels.dtype == np.uint8
    assert 60 < pat.pixels.mean() < 200 and pat.pixels.std() > 20  # a real picture, not zeros


def _pat(width=2, height=2, depth=3, magic=b"GPAT", version=1, name=b"t\0", body=None, header_size=None):
    header_size = header_size or 24 + len(name)
    head = struct.pack(">5I4s", header_size, version, width, height, depth, magic) + name
    return head + (body if body is not None else bytes(width * height * depth))


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"GP", "shorter than"),
        (_pat(magic=b"XXXX"), "not a GIMP .pat"),
        (_pat(version=2), "version 2"),
        (_pat(depth=5), "bytes per pixel"),
        (_pat(width=0), "size 0x2"),
        (_pat(body=b"\0" * 5), "truncated"),
        (_pat(header_size=9999), "header size"),
    ],
)
def test_corrupt_pattern_files_name_the_problem(tmp_path, raw, words):
    f = tmp_path / "bad.pat"
    f.write_bytes(raw)
    with pytest.raises(PatternError, match=words) as e:
        read_pat(f)
    assert str(f) in str(e.value)


def test_missing_pattern_file_says_how_to_get_it(tmp_path):
    with pytest.raises(PatternError, match="gimp-data"):
        read_pat(tmp_path / "nope.pat")


def test_grey_alpha_pattern_becomes_rgb(tmp_path):
    f = tmp_path / "ga.pat"
    f.write_bytes(_pat(width=1, height=1, depth=2, body=bytes([0, 0])))  # black, fully transparent
    assert read_pat(f).pixels.tolist() == [[[255, 255, 255]]]


# --- the prints ----------------------------------------------------------------------------------


def test_at_least_8_prints_4_generated_4_real():
    kinds = [p.kind for p in textures.PRINTS]
    assert len(kinds) >= 8 and kinds.count("generated") >= 4 and kinds.count("gimp") >= 4


@pytest.mark.parametrize("name", list(textures.GENERATORS))
def test_generated_prints_are_deterministic_from_the_seed(name):
    a, b = textures.generated_tile(name, seed=3), textures.generated_tile(name, seed=3)
    c = textures.generated_tile(name, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (textures.TILE, textures.TILE, 3) and a.std() > 20


def test_real_tiles_stay_seamless_after_resampling():
    tile = textures.gimp_tile("Fabric/burlap.pat").astype(float)  # 96 -> 64
    wrap_step = np.abs(tile[0] - tile[-1]).mean()
    inner_step = np.abs(np.diff(tile, axis=0)).mean()
    assert wrap_step < 2 * inner_step


# --- the pipeline (torch) ------------------------------------------------------------------------


def _garment(h=128, w=128, level=0.6):
    d = torch.zeros(1, 1, h, w)
    d[..., h // 6 : -h // 6, w // 4 : -w // 4] = level
    return d


def test_mask_keeps_a_dark_garment_and_a_dark_patch_whole():
    d = _garment(level=0.2)
    d[..., 50:70, 50:70] = 0.0  # a black pocket inside the garment, not connected to the border
    m = garment_mask(d)[0, 0]
    assert m[30:-30, 40:-40].min() > 0.99, "the mask punched a hole in the garment"
    assert m[:10].max() < 1e-6 and m[:, :20].max() < 1e-6


def test_first_layer_by_rows_and_columns_is_the_per_pixel_formula():
    """The network's first layer, computed from per-row and per-column terms (rendering) and from the
    per-pixel features (training), against sin/cos(2 pi k . (u, v)) written out at every pixel."""
    import math

    from training.prints.network import NetworkConfig, PrintNetwork
    from training.prints.pipeline import tile_coordinates

    torch.manual_seed(0)
    net = PrintNetwork(NetworkConfig(frequencies=8, max_frequency=5, width=6, layers=1), n_prints=3)
    with torch.no_grad():
        for b in net.biases:
            b.normal_()
    u, v = tile_coordinates(40, 50)
    u, v = u[3:14], v[5:12]  # a window, as training cuts them: 7 rows, 11 columns
    design, weights = torch.rand(2, 1, 7, 11), torch.rand(2, 3)
    w = torch.einsum("bp,poi->boi", weights, net.weights[0])
    b = torch.einsum("bp,poi->boi", weights, net.biases[0])
    kx, ky = net.freqs[:, 0, None, None], net.freqs[:, 1, None, None]
    phase = 2 * math.pi * (kx * u[None, None, :] + ky * v[None, :, None])  # (F, 7, 11)
    features = torch.cat([torch.sin(phase), torch.cos(phase)])[None].expand(2, -1, -1, -1)
    features = torch.cat([features, design - 0.5], 1)  # (2, 2F+1, 7, 11)
    direct = torch.einsum("boi,bihw->bohw", w, features) + b[..., None]
    with torch.no_grad():
        assert torch.allclose(net.first_layer(design, u, v, w, b), direct, atol=1e-5)
        net.train()
        trained = net(design, u, v, weights)
        net.eval()
        assert torch.allclose(net(design, u, v, weights), trained, atol=1e-6)


def test_tile_and_shade_samples_the_mix_as_grid_sample_samples_each_tile():
    import torch.nn.functional as F

    from training.prints.pipeline import TileAndShade, tile_coordinates

    torch.manual_seed(0)
    baseline = TileAndShade(torch.rand(3, 3, 8, 8))
    u, v = tile_coordinates(13, 17)
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.0, 0.75]])
    # before: every tile sampled on the full grid (align_corners=True on the padded 10x10 tile), then mixed
    gx = ((u - torch.floor(u)) * 8 + 0.5) * (2 / 9) - 1
    gy = ((v - torch.floor(v)) * 8 + 0.5) * (2 / 9) - 1
    grid = torch.stack([gx[None, :].expand(13, 17), gy[:, None].expand(13, 17)], 2)[None].expand(3, -1, -1, -1)
    each = F.grid_sample(baseline.tiles, grid, mode="bilinear", padding_mode="border", align_corners=True)
    expected = torch.einsum("bp,pchw->bchw", weights, each)
    assert torch.allclose(baseline(u, v, weights), expected, atol=1e-6)


# --- training, export and the kiosk on a quick model --------------------------------------------


@pytest.fixture(scope="session")
def quick_models(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    out = tmp_path_factory.mktemp("models")
    t0 = time.time()
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "prints", "--run", str(run), "--quick", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert time.time() - t0 < 60
    assert (run / "checkpoint.pt").is_file() and (run / "evidence.json").is_file()
    from training.prints.export import export

    manifest = export(run, out)
    return run, out, manifest


def test_quick_training_saves_its_config_and_resumes(quick_models):
    run, _, _ = quick_models
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["config"]["steps"] == state["network_step"]
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "prints", "--run", str(run), "--quick", "--resume", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0 and "resuming" in r.stdout


def test_export_parity_and_manifest(quick_models):
    _, out, manifest = quick_models
    assert manifest["parity_max_abs_diff_256"]["prints.onnx"] <= 1e-3
    assert manifest["parity_max_abs_diff_256"]["prints_baseline.onnx"] <= 1e-3
    import onnx

    model = onnx.load(out / "prints.onnx")
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) <= 17
    for e in manifest["prints"]:
        assert (out / e["swatch"]).is_file() and e["licence"] and e["source"]
        assert e["method"] in ("network", "tile-and-shade")


@pytest.fixture(scope="session")
def quick_prints(quick_models):
    return Prints.load(quick_models[1])


def test_weights_are_normalised_and_none_is_zero(quick_prints):
    w = quick_prints.weights({"leopard": 2.0, "tartan": 6.0})
    assert w.sum() == pytest.approx(1.0) and w.max() == pytest.approx(0.75)
    assert not quick_prints.weights(NONE).any()
    assert quick_prints.names[0] == NONE and len(quick_prints.names) == len(textures.PRINTS) + 1


def test_unknown_print_lists_the_available_ones(quick_prints):
    with pytest.raises(PrintError, match="available prints: none, polka_dot"):
        quick_prints.weights("zebra")
    with pytest.raises(PrintError, match=">= 0"):
        quick_prints.weights({"leopard": -1})


def test_all_black_design_gives_background_only(quick_prints):
    out = quick_prints.apply(np.zeros((64, 64), np.float32), quick_prints.weights("leopard"))
    expected = np.round(np.array(BACKGROUND) * 255)
    assert np.abs(out.astype(float) - expected).max() <= 1


def test_no_print_leaks_onto_the_background(quick_prints):
    d = _garment(96, 96)[0, 0].numpy()
    for name in quick_prints.names:
        out = quick_prints.apply(d, quick_prints.weights(name)).astype(float)
        bg = out[:8]  # well away from the garment
        assert np.abs(bg - np.round(np.array(BACKGROUND) * 255)).max() <= 1, name


def test_unprinted_design_is_grey_and_printed_one_is_not(quick_prints):
    d = _garment(96, 96)[0, 0].numpy()
    plain = quick_prints.apply(d, quick_prints.weights(NONE)).astype(float)
    garment = plain[40:56, 40:56]
    assert np.abs(garment - garment.mean(axis=2, keepdims=True)).max() <= 1  # grey
    printed = quick_prints.apply(d, quick_prints.weights("polka_dot")).astype(float)[20:76, 30:66]
    assert printed.std() > 10


@pytest.mark.parametrize("h, w", [(37, 51), (255, 129), (3, 5), (1, 1)])
def test_odd_sizes_come_back_the_same_size(quick_prints, h, w):
    d = np.random.default_rng(0).random((h, w)).astype(np.float32)
    assert quick_prints.apply(d, quick_prints.weights("tartan")).shape == (h, w, 3)


def test_baseline_mode_matches_tile_and_shade_in_auto(quick_models):
    out = quick_models[1]
    auto, base = Prints.load(out), Prints.load(out, mode="baseline")
    d = _garment(64, 64)[0, 0].numpy()
    tiled = [n for n in auto.names[1:] if auto.info(n).method == "tile-and-shade"][0]
    assert np.abs(auto.apply(d, auto.weights(tiled)).astype(int) - base.apply(d, base.weights(tiled))).max() <= 1


def test_stylize_cli(quick_models, tmp_path, capsys):
    import pygame

    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    img = (_garment(64, 64)[0, 0].numpy() * 255).astype(np.uint8)
    pygame.image.save(pygame.surfarray.make_surface(np.repeat(img.T[..., None], 3, 2)), str(src))
    models = str(quick_models[1])
    assert stylize_main(["--models", models, "--print", "leopard=1,tartan=1", str(src), str(dst)]) == 0
    assert dst.is_file()
    assert stylize_main(["--models", models, "--print", "zebra", str(src), str(dst)]) == 2
    assert "available prints" in capsys.readouterr().err
    assert stylize_main(["--models", models, "--print", "leopard", str(tmp_path / "missing.png"), str(dst)]) == 2


# --- recovering a run from the exported files ---------------------------------------------------


def test_a_recovered_run_exports_the_same_prints(quick_models, tmp_path):
    """training.prints.recover rebuilds the run from prints.onnx + prints.json; its export draws what
    the original did, carries the scores over and says so, and keeps the space's manifest true."""
    from contract.models import sha256_file
    from training.prints.export import export
    from training.prints.recover import main as recover_main

    _, out, first = quick_models
    run, again = tmp_path / "recovered", tmp_path / "models"
    assert recover_main(["--models", str(out), "--run", str(run)]) == 0
    again.mkdir()
    (again / "manifest.json").write_text(json.dumps({"format": 1}) + "\n")  # as fse-train export leaves it
    second = export(run, again)
    assert second["recovered_from"]["sha256"] == first["model"]["sha256"]
    assert second["recovered_from"]["parity_max_abs_diff_256"] <= 1e-4
    for key in ("loss_network_sanity", "trained_steps", "recognition_method", "network_config"):
        assert second[key] == first[key], key
    assert [e["recognition"] for e in second["prints"]] == [e["recognition"] for e in first["prints"]]
    space = json.loads((again / "manifest.json").read_text())
    assert space["format"] == 1 and space["prints"]["network"]["sha256"] == sha256_file(again / "prints.onnx")
    assert space["prints"]["index"]["sha256"] == sha256_file(again / "prints.json")

    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "prints", "--run", str(run), "--quick", "--resume", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode != 0 and "exports but does not resume" in r.stderr


def test_recovered_pipeline_draws_what_the_shipped_prints_onnx_draws():
    import onnxruntime as ort

    from training.prints.export import pipeline_from
    from training.prints.recover import recover_state
    from training.prints.train import load_designs

    state = recover_state(SHIPPED)
    shipped = json.loads((SHIPPED / "prints.json").read_text())
    assert state["network_step"] == shipped["trained_steps"] and state["sanity"] == shipped["loss_network_sanity"]
    P = len(textures.PRINTS)
    net_w, tile_w = torch.zeros(3, P), torch.zeros(3, P)
    net_w[0, 2], tile_w[1, 4] = 1, 1  # a network print, a tile print
    net_w[2, 0], tile_w[2, 6] = 0.5, 0.5  # and a mix of both
    design = load_designs("test", 2, 96)[1:2, :, :, 8:88]  # a pullover, 96x80
    session = ort.InferenceSession(str(SHIPPED / "prints.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(
        None, {"design": design.numpy(), "net_weights": net_w.numpy(), "tile_weights": tile_w.numpy()}
    )
    with torch.no_grad():
        got = pipeline_from(state)(design, net_w, tile_w).numpy()
    assert np.abs(got - expected[0]).max() <= 1e-4


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda m: m["network_config"].update(seed=8), "network.freqs is not what this code makes"),
        (
            lambda m: [e.update(source=e["source"].replace("(seed 0)", "(seed 1)")) for e in m["prints"]],
            "baseline.tiles is not what this code makes",
        ),
        (lambda m: m["model"].update(sha256="0" * 64), "not the file prints.json describes"),
    ],
)
def test_recovery_refuses_files_this_code_would_not_make(tmp_path, edit, words):
    from training.prints.recover import recover_state

    for name in ("prints.json", "prints.onnx"):
        (tmp_path / name).write_bytes((SHIPPED / name).read_bytes())
    _edit_json(tmp_path / "prints.json", edit)
    with pytest.raises(SystemExit, match=words):
        recover_state(tmp_path)


# --- the shipped model --------------------------------------------------------------------------


def test_shipped_prints_load_and_render_on_a_real_garment():
    from training.prints.train import load_designs

    prints = Prints.load(SHIPPED)
    manifest = json.loads((SHIPPED / "prints.json").read_text())
    assert manifest["parity_max_abs_diff_256"]["prints.onnx"] <= 1e-3
    assert manifest["gmac_256"] <= 2.0
    design_t = load_designs("test", 2, 256)[1:2]  # a pullover
    design = design_t[0, 0].numpy()
    # background = pixels with no garment within 8 pixels
    far = (torch.nn.functional.max_pool2d(design_t, 17, stride=1, padding=8)[0, 0] == 0).numpy()
    assert far.sum() > 1000
    for name in prints.names[1:]:
        out = prints.apply(design, prints.weights(name))
        assert out.shape == (256, 256, 3)
        assert np.abs(out[far].astype(float) - np.round(np.array(BACKGROUND) * 255)).max() <= 1
        info = prints.info(name)
        assert info.swatch.shape[2] == 3 and info.method in ("network", "tile-and-shade")


def _blend_vs_average(prints, design, a="polka_dot", b="tartan"):
    one, two = (prints.apply(design, prints.weights(n)).astype(float) for n in (a, b))
    blend = prints.apply(design, prints.weights({a: 1.0, b: 1.0})).astype(float)
    return blend, (one + two) / 2


def test_a_blend_is_the_average_of_its_prints(quick_prints):
    d = _garment(64, 64)[0, 0].numpy()
    blend, average = _blend_vs_average(quick_prints, d)
    assert np.abs(blend - average).max() <= 1  # within 1/255: each print rendered alone, then mixed
    thirds = quick_prints.apply(d, quick_prints.weights({"leopard": 1, "tartan": 1, "burlap": 2})).astype(float)
    parts = [quick_prints.apply(d, quick_prints.weights(n)).astype(float) for n in ("leopard", "tartan", "burlap")]
    assert np.abs(thirds - (parts[0] + parts[1] + 2 * parts[2]) / 4).max() <= 1


def test_shipped_blend_shows_both_prints_where_the_weight_space_mix_did_not():
    """Polka dot + tartan 50/50: the wrapper's blend is the average of the two pictures; the old
    mix inside the network's weights (the graph fed 0.5/0.5 directly) is far from it."""
    import onnxruntime as ort

    from training.prints.train import load_designs

    prints = Prints.load(SHIPPED)
    design_t = load_designs("test", 2, 128)[1:2]  # a pullover
    design = design_t[0, 0].numpy()
    garment = (garment_mask(design_t)[0, 0] > 0.99).numpy()
    blend, average = _blend_vs_average(prints, design)
    assert np.abs(blend - average).max() <= 1

    session = ort.InferenceSession(str(SHIPPED / "prints.onnx"), providers=["CPUExecutionProvider"])
    half = prints.weights({"polka_dot": 1.0, "tartan": 1.0})[None]
    old = session.run(None, {"design": design[None, None], "net_weights": half, "tile_weights": half * 0})[0]
    old = np.round(old[0].transpose(1, 2, 0) * 255)
    assert np.abs(old - average)[garment].mean() > 10 * max(np.abs(blend - average)[garment].mean(), 0.1)
