"""The latent map: the 8 sliders a visitor moves <-> the fashion space's latent z (numpy only).

    sliders u in [-1, 1]^8
      -> g = Phi^-1((u + 1) / 2), per dimension   (uniform -> standard normal; |g| <= G_LIMIT)
      -> z = flow(g)                               (an invertible map fitted to where the data sits)
      -> generator.onnx(z, coords)

The flow (training/prior.py fits it to the encoder means of the 60k training images) makes a
uniform hyperspace jump sample the data's density instead of the holes between the classes, while
every slider still spans [-1, 1] and moves the design smoothly (the map is smooth and one-to-one).
The encoder's z comes back to slider positions by the exact inverse, so a drawing or a landmark
lands where the sliders can show it, and u -> z -> u is the identity (to float precision).

Its weights are onnx_models/prior.npz (named in manifest.json `latent.prior` with its sha256). The
flow is `COUPLINGS` affine coupling layers (RealNVP, Dinh et al. 2017): each keeps half of the
numbers (`keep`), and from them a small tanh network gives a log-scale and a shift for the other
half. Both directions cost about 40k multiply-adds and 1k tanh a point, in numpy float32 (as
trained): nothing once per design in the kiosk; fse-analyze's trail of a million points in 11 s on
the shared 2-core machine (100k: 3.5 s, 14 s in float64).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .models import sha256_file
from .space import LATENT_DIM

PRIOR_FILE = "prior.npz"
G_LIMIT = 3.0
"""Sliders at +-1 would be +-infinity in the normal space: the map stops at 3 sigma (u = +-0.9973),
beyond which 0.27 % of the training images lie per dimension."""
U_LIMIT = math.erf(G_LIMIT / math.sqrt(2))
LOG_SCALE_LIMIT = 2.0
"""Each coupling's log-scale is squashed into +-LOG_SCALE_LIMIT (soft clamp), so no slider position
can stretch the map by more than e^2 per layer."""

_erf = np.vectorize(math.erf, otypes=[np.float64])


def normal_cdf(g: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(g, np.float64) / math.sqrt(2.0)))


def normal_quantile(p: np.ndarray) -> np.ndarray:
    """Phi^-1 for p in (0, 1): Acklam's rational approximation (relative error 1.2e-9), then one
    Halley step against normal_cdf, so normal_cdf(normal_quantile(p)) == p to ~1e-15."""
    p = np.asarray(p, np.float64)
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)

    def tail(q):  # for p < 0.02425
        r = np.sqrt(-2 * np.log(q))
        return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / (
            (((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1
        )

    q = p - 0.5
    r = q * q
    x = (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )
    low, high = p < 0.02425, p > 1 - 0.02425
    x = np.where(low, tail(np.where(low, p, 0.5)), x)
    x = np.where(high, -tail(np.where(high, 1 - p, 0.5)), x)
    e = normal_cdf(x) - p  # Halley
    u = e * math.sqrt(2 * math.pi) * np.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def sliders_to_normal(u: np.ndarray) -> np.ndarray:
    u = np.clip(np.nan_to_num(np.asarray(u, np.float64)), -U_LIMIT, U_LIMIT)
    return normal_quantile((u + 1.0) / 2.0)


def normal_to_sliders(g: np.ndarray) -> np.ndarray:
    return 2.0 * normal_cdf(np.clip(g, -G_LIMIT, G_LIMIT)) - 1.0


def hyperspace_jump(rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """A random point of the space: slider positions uniform in [-1, 1]^8 (as in the original explorer),
    which the learned prior (contract/latent.py) turns into a sample of the data's density.

    temperature < 1 draws the normal variable behind each slider from N(0, temperature^2) instead of
    N(0, 1): jumps stay nearer the middle of the prior, where the designs are likeliest to be garments,
    at the cost of some variety. The sliders' meaning does not change, only where a jump lands."""
    return temper(rng.uniform(-1.0, 1.0, size=LATENT_DIM), temperature).astype(np.float32)


def temper(u: np.ndarray, temperature: float) -> np.ndarray:
    """Uniform slider positions -> those of a jump at `temperature` (the same positions at 1)."""
    return u if temperature == 1.0 else normal_to_sliders(temperature * sliders_to_normal(u))


class LatentMap:
    """sliders <-> z for one set of models. `weights` are prior.npz's arrays (training/prior.py writes
    them from its torch model, with the same names and layout). `space` names the map (see
    PositionSpaces): what a capture log records beside the slider positions it stores."""

    def __init__(self, weights: dict[str, np.ndarray], space: str = ""):
        self.space = space
        self.couplings = int(weights["couplings"])
        self.keep = [weights[f"keep{i}"] for i in range(self.couplings)]  # (4,) dims passed through
        self.change = [weights[f"change{i}"] for i in range(self.couplings)]  # (4,) dims scaled and shifted
        # float32, as trained (torch): 4-6x faster than float64 here, which fse-analyze needs for a
        # million trail points (~40k multiply-adds and 1k tanh each); the inverse stays exact to ~1e-6
        self.layers = [
            [(weights[f"c{i}.w{j}"].astype(np.float32), weights[f"c{i}.b{j}"].astype(np.float32)) for j in range(3)]
            for i in range(self.couplings)
        ]
        self.z_mean = weights["z_mean"].astype(np.float64)  # the data's mean and spread: the flow's last,
        self.z_std = weights["z_std"].astype(np.float64)  # fixed affine layer

    @classmethod
    def load(cls, path: Path, space: str = "") -> "LatentMap":
        with np.load(path, allow_pickle=False) as f:
            return cls({k: f[k] for k in f.files}, space)

    def _scale_shift(self, i: int, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (w0, b0), (w1, b1), (w2, b2) = self.layers[i]
        h = np.tanh(kept @ w0 + b0)
        h = np.tanh(h @ w1 + b1)
        out = h @ w2 + b2  # (B, 2 * half)
        half = out.shape[1] // 2
        log_scale = LOG_SCALE_LIMIT * np.tanh(out[:, :half] / LOG_SCALE_LIMIT)
        return log_scale, out[:, half:]

    def normal_to_z(self, g: np.ndarray) -> np.ndarray:
        h = np.array(np.atleast_2d(g), np.float32)
        for i in range(self.couplings):
            log_scale, shift = self._scale_shift(i, h[:, self.keep[i]])
            h[:, self.change[i]] = h[:, self.change[i]] * np.exp(log_scale) + shift
        return h.astype(np.float64) * self.z_std + self.z_mean

    def z_to_normal(self, z: np.ndarray) -> np.ndarray:
        h = ((np.atleast_2d(np.asarray(z, np.float64)) - self.z_mean) / self.z_std).astype(np.float32)
        for i in reversed(range(self.couplings)):
            log_scale, shift = self._scale_shift(i, h[:, self.keep[i]])
            h[:, self.change[i]] = (h[:, self.change[i]] - shift) * np.exp(-log_scale)
        return h.astype(np.float64)

    def to_z(self, u: np.ndarray) -> np.ndarray:
        """Slider positions (B, 8) or (8,) -> the generator's z (B, 8) float32."""
        return self.normal_to_z(sliders_to_normal(np.atleast_2d(u))).astype(np.float32)

    def to_sliders(self, z: np.ndarray) -> np.ndarray:
        """The encoder's z (B, 8) -> slider positions (B, 8) float32, each in [-U_LIMIT, U_LIMIT]."""
        return normal_to_sliders(self.z_to_normal(z)).astype(np.float32)


class SliderIdentity:
    """The map of models exported before the learned prior (manifest without `latent.prior`): their
    generator took the slider positions themselves (it squashed them inside the graph)."""

    def __init__(self, space: str = ""):
        self.space = space

    def to_z(self, u: np.ndarray) -> np.ndarray:
        return np.clip(np.atleast_2d(np.asarray(u, np.float32)), -1.0, 1.0)

    def to_sliders(self, z: np.ndarray) -> np.ndarray:
        return np.atleast_2d(np.asarray(z, np.float32))


def load_latent_map(models_dir: Path, manifest: dict) -> LatentMap | SliderIdentity:
    """The map a models folder was exported with: prior.npz checked against the sha256 manifest.json
    gives it. Raises ValueError naming the file when it is missing or does not match."""
    entry = manifest.get("latent", {}).get("prior")
    if entry is None:
        return SliderIdentity(space_name(manifest))
    path = Path(models_dir) / entry["file"]
    if not path.is_file():
        raise ValueError(f"{path} is missing (manifest.json latent.prior names it)")
    if sha256_file(path) != entry["sha256"]:
        raise ValueError(f"{path} does not match its sha256 in manifest.json (corrupt or replaced)")
    return LatentMap.load(path, space_name(manifest))


# ---------------------------------------------------------------------------------------------
# Position spaces: which map a stored slider position is in.
#
# A capture log stores slider positions, and a position means a design only under the latent map
# (and the generator) it was set with: model v2.1's sliders were u = tanh(z / 1.1027), the learned
# prior's are another function of the same z, so one stored position is two different designs.
# Each log row names its map (capture-log schema 5, contract/capture_schema.py), by the sha256 of
# the file that turns positions into designs:
#     "prior.npz:<sha256>"        models with a learned prior (the prior was fitted to that network)
#     "generator.onnx:<sha256>"   models before it, whose generator took the positions themselves
# and everything that places logged positions on the reference map (fitted in the encoder's z,
# contract/mapfile.py) goes through PositionSpaces.to_z: the kiosk's map mode and fse-analyze.


class TanhMap:
    """The sliders of models exported before the learned prior, in the latent of the same network:
    u = tanh(z / latent_scale), the generator clipping |u| to `clip` (manifest `latent.earlier_spaces`)."""

    def __init__(self, latent_scale: float, clip: float, space: str = ""):
        self.latent_scale, self.clip, self.space = float(latent_scale), float(clip), space

    def to_z(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.atleast_2d(np.asarray(u, np.float64)), -self.clip, self.clip)
        return (self.latent_scale * np.arctanh(u)).astype(np.float32)

    def to_sliders(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(np.atleast_2d(np.asarray(z, np.float64)) / self.latent_scale).astype(np.float32)


EARLIER_KINDS = {"tanh": lambda entry, space: TanhMap(entry["latent_scale"], entry["clip"], space)}


def space_name(manifest: dict) -> str:
    """The name of the slider positions' map of these models (see above), from manifest.json alone."""
    prior = manifest.get("latent", {}).get("prior")
    if prior is not None:
        return f"{PRIOR_FILE}:{prior['sha256']}"
    return f"generator.onnx:{manifest['models']['generator']['sha256']}"


def space_codes(names: list) -> tuple[np.ndarray, list[str]]:
    """Each row's map name (None: not named) -> (codes (N,) int64 into the distinct names, -1 for
    None; the distinct names in order of first appearance): what PositionSpaces.to_z takes."""
    seen: dict[str, int] = {}
    codes = np.fromiter((-1 if n is None else seen.setdefault(n, len(seen)) for n in names), np.int64, len(names))
    return codes, list(seen)


def models_space(models_dir: Path) -> str:
    """space_name of a models folder, read from its manifest.json."""
    return space_name(json.loads((Path(models_dir) / "manifest.json").read_text()))


CHUNK = 100_000
"""Positions PositionSpaces.to_z converts at a time (a million trail points would need ~1 GB at once)."""


class PositionSpaceError(ValueError):
    """Logged positions in a map these models cannot read; the message says which and what is needed."""


class PositionSpaces:
    """Slider positions of any map these models can read -> their generator's latent z.

    `current` is the models' own map; `earlier` the maps of earlier exports of the same network,
    listed in manifest.json `latent.earlier_spaces` (each with the name of the models that used it),
    whose positions convert exactly. Any other map is refused: its positions are another network's."""

    def __init__(self, current, earlier: dict | None = None, names: dict[str, str] | None = None):
        self.current = current
        self.maps = {current.space: current, **(earlier or {})}
        self.names = {current.space: "current", **(names or {})}  # map -> the models' name ("v2.1")

    @classmethod
    def load(cls, models_dir: Path, manifest: dict) -> "PositionSpaces":
        """The models folder's own map (load_latent_map) and the earlier ones its manifest lists."""
        earlier, names = {}, {}
        for i, entry in enumerate(manifest.get("latent", {}).get("earlier_spaces", [])):
            try:
                earlier[entry["space"]] = EARLIER_KINDS[entry["map"]["kind"]](entry["map"], entry["space"])
                names[entry["space"]] = str(entry["models"])
            except (KeyError, TypeError, ValueError) as e:
                raise PositionSpaceError(
                    f"{Path(models_dir) / 'manifest.json'}: latent.earlier_spaces[{i}] is not a space, a models "
                    f"name and a map of a known kind ({', '.join(EARLIER_KINDS)}): {e!r}"
                ) from None
        return cls(load_latent_map(models_dir, manifest), earlier, names)

    def by_name(self, models: str) -> str:
        """The map of the models called `models` ("current", "v2.1"); PositionSpaceError if none."""
        for space, name in self.names.items():
            if name == models:
                return space
        raise PositionSpaceError(f"no models called {models!r} here; known: {', '.join(self.names.values())}")

    def knows(self, space: str | None) -> bool:
        return space in self.maps

    def to_z(self, positions: np.ndarray, codes: np.ndarray, spaces: list, unnamed: str | None = None) -> np.ndarray:
        """positions (N, 8) stored in the maps spaces[codes[i]] -> z (N, 8) float32.

        A code of -1 (or a space of None) is a row that names no map (written before the logs did):
        it is read in `unnamed`'s map, a space name; without one, PositionSpaceError. A space these
        models cannot read: PositionSpaceError naming it."""
        positions = np.atleast_2d(np.asarray(positions, np.float32))
        codes = np.asarray(codes, np.int64)
        z = np.zeros_like(positions)
        for code in np.unique(codes):
            space = spaces[code] if code >= 0 else None
            space = space if space is not None else unnamed
            if space is None:
                raise PositionSpaceError("slider positions that name no latent map (logged before schema 5)")
            if space not in self.maps:
                raise PositionSpaceError(f"slider positions in the latent map {space}, which these models cannot read")
            rows = np.flatnonzero(codes == code)
            for start in range(0, len(rows), CHUNK):  # the flow's (B, 64) intermediates stay ~25 MB
                part = rows[start : start + CHUNK]
                z[part] = self.maps[space].to_z(positions[part])
        return z
