"""The outline measure (training/outline.py) and the silhouette step (contract/silhouette.py), issue 23."""

from __future__ import annotations

import numpy as np
import pytest

from contract import silhouette
from training import outline


def disc(size: int, width_at_1024: float, level: float = 0.8, ring: float = 0.0) -> np.ndarray:
    """A garment-like disc whose edge rises 10-90 % over `width_at_1024` px at 1024 (scaled to `size`),
    with an optional bright ring just inside the edge (a halo of `ring` of the step)."""
    a = width_at_1024 * size / 1024 / (2 * np.log(9))  # logistic scale: 10-90 % is 2 a ln 9
    y, x = np.mgrid[0:size, 0:size] + 0.5
    inside = 0.3 * size - np.hypot(x - size / 2, y - size / 2)  # px inside the edge
    d = level / (1 + np.exp(-inside / a))
    d += ring * level * np.exp(-0.5 * ((inside - width_at_1024 * size / 1024) / (a + 1)) ** 2)
    return d.astype(np.float32)


@pytest.mark.parametrize("width", [4.0, 30.0])
def test_width_is_the_10_90_rise_and_scales_with_the_size(width):
    at_1024 = outline.measure(disc(1024, width))
    at_512 = outline.measure(disc(512, width))
    assert at_1024.width_px == pytest.approx(width, rel=0.06)
    assert at_512.width_px == pytest.approx(width / 2, rel=0.15)  # 2 px at 512 is near the sampling floor
    assert at_1024.overshoot == 0 and at_1024.points >= 300


def test_overshoot_sees_a_halo_and_not_a_clean_edge():
    assert outline.measure(disc(512, 8.0)).overshoot < 0.005
    halo = disc(512, 8.0, ring=0.1)
    assert outline.measure(halo).overshoot == pytest.approx(
        (halo.max() - 0.8) / 0.8, abs=0.015
    )  # the ring tails inward


def test_no_garment_no_outline():
    assert outline.measure(np.zeros((256, 256), np.float32)) is None
    assert outline.summarise([np.zeros((64, 64), np.float32)]) == {"designs": 0}


@pytest.fixture(scope="module")
def shipped_jump(shipped_models):
    """One shipped jump at 28, 512 and 1024 px (a T-shirt-like top: plenty of silhouette)."""
    z = np.random.default_rng(5).uniform(-1, 1, (1, 8)).astype(np.float32)
    return {n: shipped_models.generate(z, n)[0] for n in (28, 512, 1024)}


def test_a_shipped_design_reads_the_same_at_512_and_1024(shipped_jump):
    """The measure is in output pixels of a resolution-free drawing: twice the size, twice the width."""
    w512, w1024 = (outline.measure(shipped_jump[n]).width_px for n in (512, 1024))
    assert 2 * w512 == pytest.approx(w1024, rel=0.1)


def test_silhouette_step_makes_the_outline_crisp_without_a_halo(shipped_jump):
    d28, d1024 = shipped_jump[28], shipped_jump[1024]
    before, after = outline.measure(d1024), outline.measure(silhouette.sharpen(d1024, d28))
    assert before.width_px > 15  # the generator's own ramp
    assert after.width_px <= 8 and after.overshoot <= 0.02
    half = outline.measure(silhouette.sharpen(shipped_jump[512], d28))
    assert half.width_px == pytest.approx(after.width_px, abs=1.0)  # the same few output pixels at any size


def test_silhouette_step_leaves_the_interior_and_small_sizes_alone(shipped_jump):
    d28, d1024 = shipped_jump[28], shipped_jump[1024]
    sharp = silhouette.sharpen(d1024, d28)
    far = silhouette._neighbourhood(d28, np.minimum) >= 2 * silhouette.BACKGROUND  # no background near
    cells = far[:-1, :-1] & far[1:, :-1] & far[:-1, 1:] & far[1:, 1:]
    i0, _ = silhouette._cells(1024)
    interior = cells[i0[:, None], i0[None, :]]
    assert interior.mean() > 0.05
    np.testing.assert_array_equal(sharp[interior], d1024[interior])  # folds, pockets, collars as drawn
    np.testing.assert_array_equal(silhouette.sharpen(d28, d28), d28)  # at 28 px: the trained decoder
    assert sharp.min() >= d1024.min() - 1e-6 and sharp.max() <= d1024.max() + 1e-6
    with pytest.raises(ValueError, match="28 px render"):
        silhouette.sharpen(d1024, d1024[:56, :56])
