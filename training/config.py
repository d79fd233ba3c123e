"""Hyper-parameters for every model, one dataclass each; each is saved inside its checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class SpaceConfig:
    """The CPPN-VAE-GAN: encoder, CPPN generator and discriminator (after hardmaru's cppn-gan-vae)."""

    latent_dim: int = 8  # the 8 parameters visitors steer
    gen_width: int = 64  # CPPN hidden units; 64 trains ~3x faster per step than 128, same reconstruction
    gen_layers: int = 4  # tanh layers after the first (z + coordinate) layer
    z_every_layer: bool = True  # z also biases every hidden layer (once per image, broadcast): sharper,
    # more distinct designs than z in the first layer only, same per-pixel cost
    enc_channels: int = 32  # first conv width of the encoder; the second doubles it
    disc_channels: int = 32
    coord_scale: float = 1.0  # the coordinate square is [-scale, scale]^2
    # Style: a mapping network turns z into a FiLM scale and shift for every CPPN layer, once per
    # image (as in pi-GAN / StyleGAN). Far more say for the 8 numbers than one bias per layer, and no
    # per-pixel cost. False keeps the v1 generator (z projected to one bias per layer).
    film: bool = True
    mapping_width: int = 128  # hidden units of the mapping network (per image, so free per pixel)
    # Fourier features of (x, y) (Tancik et al. 2020): sin/cos of random Gaussian frequencies, so the
    # CPPN draws crisp hems and soles. Isotropic random directions and a low spread, because axis-aligned
    # octaves up to 8 cycles per image left plaid banding inside plain garments.
    fourier_features: int = 16  # frequencies (x2 for sin and cos); 0 = plain x, y, r as in v1
    fourier_sigma: float = 0.75  # spread of the frequencies, cycles per unit of the coordinate square
    fourier_seed: int = 2018

    # VAE (the shipped model: 13 VAE epochs with a cosine learning rate, then 1 GAN epoch)
    epochs: int = 13
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0  # KL weight; <1 spends more nats on the image, >1 shapes the latent harder
    kl_warmup_epochs: float = 1.0  # ramp beta from 0 so the latent is used before KL squeezes it
    lr_final_frac: float = 0.05  # cosine decay of the VAE learning rate to this fraction by the last VAE epoch
    # Perceptual term (DFC-VAE): the squared difference of a frozen small CNN's features between the
    # photo and its reconstruction. Pixel BCE alone is happy with a grey average of sleeves and no
    # sleeves; the features are not. The CNN is trained here, first, and is NOT the shipped classifier,
    # so the recognition figures measured with the shipped classifier stay honest.
    perceptual_weight: float = 5.0  # a blur of sigma 0.75 then costs about as much here as in BCE (~20 nats)
    perceptual_epochs: int = 2  # epochs to train the feature CNN (it is saved in the run directory)

    # GAN fine-tune (run after the VAE has converged)
    gan_epochs: int = 1
    gan_lr: float = 2e-4
    gan_weight: float = 0.02  # adversarial weight per pixel (x 784): hardmaru's 1.0 wrecks short runs
    d_skip_below: float = 0.45  # balancing: don't update D while its loss is below this (it is winning)
    g_adv_skip_above: float = 1.2  # balancing: drop G's adversarial term while D's loss is above this (D is lost)
    prior_fakes: float = 0.5  # fraction of fakes decoded from prior samples rather than reconstructions

    # Polish (after the GAN epochs): the generator alone, on the frozen encoder's posterior means, with
    # BCE, the perceptual term and an edge term, so outlines and details come out as crisp as in the
    # photos. The encoder (and so the latent, the landmarks and the map) does not move. It is also the
    # only phase a run rebuilt from ONNX files (`fse-train recover`) can train: that has no
    # log-variance head and no discriminator.
    polish_epochs: int = 0
    polish_lr: float = 1e-4  # cosine to polish_lr * lr_final_frac; at 3e-4 one epoch lost 0.03 of recognition
    edge_weight: float = 1.0  # x losses.edge_shortfall (per image, ~ a tenth of BCE at the start)
    # Super-resolution polish (issue 23): the generator draws each 28 px pixel as factor x factor
    # sub-samples, and the data terms (BCE, perceptual, edge) see their average, as a camera would. A
    # photo's hem then no longer forces a soft ramp: any sub-pixel edge whose pixel averages match it
    # is as good, and the sharpness term below picks the sharp one. 1 = the plain 28 px polish.
    polish_supersample: int = 1  # 4 (112 px) costs 16x per image, so see polish_subset
    polish_subset: int | None = None  # images per polish epoch, a fresh random draw each epoch (None = all):
    # at 112 px an epoch of 60k takes over an hour on 2 shared cores; short epochs checkpoint often
    # Sharpness term at the supersampled resolution: a hyper-Laplacian prior on the design's gradient
    # (sum of |grad|^q, q < 1, as in Krishnan & Fergus 2009's deblurring): a ramp of height h over n
    # sub-pixels costs n^(1-q) h^q, so the same step drawn in one sub-pixel is cheapest, while the
    # pooled data terms keep where the step is and how high (the interior's shading included).
    sharp_weight: float = 0.0  # x losses.gradient_sparsity (per image, in 28 px pixel lengths)
    sharp_exponent: float = 0.5  # q: 1 would be indifferent to width (total variation), 2 prefers blur
    sharp_eps: float = 0.01  # gradient below which the prior is quadratic (a flat area's noise costs ~0)

    seed: int = 1234
    train_limit: int | None = None  # first N training images (for --quick)
    test_limit: int | None = None

    def per_pixel_macs(self) -> int:
        """The generator's multiply-adds per pixel (what the kiosk pays at every resolution): Fourier
        phases (and their sin/cos offset), the coordinate projection, the hidden layers, the output, and
        one add per layer for z's term (a bias in v1; FiLM's scale is folded into per-image weights and
        its shift into the bias, training/cppn_vae.modulated). Per-image work (the mapping network, the
        folding) is not counted: it is shared by all pixels."""
        w, f = self.gen_width, self.fourier_features
        z_terms = (1 + self.gen_layers) * w if (self.film or self.z_every_layer) else w
        return 6 * f + (3 + 2 * f) * w + self.gen_layers * w * w + w + z_terms


@dataclass
class ClassifierConfig:
    """A small CNN that labels Fashion-MNIST classes (used by the analysis and the jump-coverage metric)."""

    channels: int = 32
    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    dropout: float = 0.3
    blur_prob: float = 0.5  # fraction of batches blurred: generated designs are smoother than photos,
    blur_sigma_max: float = 1.5  # and the classifier labels designs in the analysis and the jump metric
    seed: int = 99
    train_limit: int | None = None
    test_limit: int | None = None


def quick(cfg):
    """The --quick variant: trains for seconds on a slice, for the tests."""
    if isinstance(cfg, SpaceConfig):
        return SpaceConfig(
            gen_width=16,
            gen_layers=2,
            enc_channels=8,
            disc_channels=8,
            epochs=1,
            gan_epochs=1,
            batch_size=64,
            train_limit=512,
            test_limit=256,
            kl_warmup_epochs=0.0,
            mapping_width=16,
            fourier_features=4,
            perceptual_epochs=1,
        )
    return ClassifierConfig(channels=8, epochs=1, batch_size=64, train_limit=512, test_limit=256)


def to_dict(cfg) -> dict:
    return asdict(cfg)


def from_dict(cls, d: dict):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in known})
