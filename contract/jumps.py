"""Where a hyperspace jump lands: a few uniform proposals, and the first that reads as a garment (numpy only).

    proposals = jump_proposals(rng, JUMP_PROPOSALS, temperature)   # (N, 8) slider positions, uniform
    landing = proposals[choose_landing(designs_28, logits)]        # the kiosk's and the figures' rule

The learned prior (contract/latent.py) puts a uniform jump on the data's density, but the decoder
still draws some of it as a ghost: a pale, hollow outline (a "dress" of two grey lines, a vest with a
white body) or a blob between two classes. Looked at as a visitor would, those are the jumps that
are not clothes, and two cheap numbers on the 28 px design find them: how sure the classifier is
(softmax of its logits) and how solid the garment is (its mean darkness inside its silhouette).
Test photos have the same spread of both, so the rule keeps every class (docs/training.md has the
figures: recall and class coverage stay, confident naming rises).

Each proposal is uniform in [-1, 1]^8 (at the jump temperature), so with JUMP_PROPOSALS = 1 a jump is
the original uniform jump; with more, it is uniform over the part of the space that reads as a
garment. Costs one 28 px render and one classifier run of JUMP_PROPOSALS designs (~3 ms on 2 cores).
"""

from __future__ import annotations

import numpy as np

from .latent import hyperspace_jump

JUMP_PROPOSALS = 4
"""Proposals per jump: 4 leaves ~4 % of jumps to the fallback (the most garment-like of the four)."""
JUMP_CONFIDENCE = 0.8
"""The classifier's softmax for its top class: below it, a design is a blend a visitor cannot name."""
JUMP_FILL = 0.45
"""Mean darkness (1 = ink) inside the silhouette: below it, a ghost. Test photos: 19 % below 0.45,
yet all ten classes keep their share of jumps (light garments are proposed again, not ruled out)."""
INK = 0.1
"""A 28 px pixel at least this dark is part of the design's silhouette."""


def jump_proposals(rng: np.random.Generator, count: int = JUMP_PROPOSALS, temperature: float = 1.0) -> np.ndarray:
    """(count, 8) slider positions, each an independent hyperspace jump."""
    return np.stack([hyperspace_jump(rng, temperature) for _ in range(count)])


def garment_fill(designs: np.ndarray) -> np.ndarray:
    """(N, H, W) designs -> (N,) mean darkness inside each silhouette: the pixels that are ink or
    enclosed by ink (holes filled: background not 4-connected to the frame's edge)."""
    designs = np.asarray(designs, np.float32)
    open_ = designs < INK  # background candidates
    outside = np.zeros_like(open_)
    outside[:, 0, :], outside[:, -1, :], outside[:, :, 0], outside[:, :, -1] = (
        open_[:, 0, :],
        open_[:, -1, :],
        open_[:, :, 0],
        open_[:, :, -1],
    )
    while True:  # flood the background in from the frame; ~a side's length of rounds at most
        grown = outside.copy()
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown[:, :, 1:] |= outside[:, :, :-1]
        grown[:, :, :-1] |= outside[:, :, 1:]
        grown &= open_
        if np.array_equal(grown, outside):
            break
        outside = grown
    inside = ~outside
    return np.where(inside.any((1, 2)), (designs * inside).sum((1, 2)) / np.maximum(inside.sum((1, 2)), 1), 0.0)


def confidence(logits: np.ndarray) -> np.ndarray:
    """(N, classes) logits -> (N,) softmax probability of the top class."""
    logits = np.asarray(logits, np.float64)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e.max(1) / e.sum(1)


def choose_landing(designs: np.ndarray, logits: np.ndarray) -> int:
    """The proposal a jump lands on, from its proposals' designs (N, H, W) and logits (N, classes)."""
    return int(choose_landings(designs[None], logits[None])[0])


def choose_landings(designs: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """For J jumps at once, designs (J, N, H, W) and logits (J, N, classes) -> (J,) indices: the first
    proposal named with JUMP_CONFIDENCE and solid (JUMP_FILL), else the one with the most of both
    (confidence x fill)."""
    jumps, n = designs.shape[:2]
    sure = confidence(logits.reshape(jumps * n, -1)).reshape(jumps, n)
    fill = garment_fill(designs.reshape(jumps * n, *designs.shape[2:])).reshape(jumps, n)
    good = (sure >= JUMP_CONFIDENCE) & (fill >= JUMP_FILL)
    return np.where(good.any(1), good.argmax(1), (sure * fill).argmax(1))
