"""The explorer's commands without pygame: jump, random nearby, landmark glides, the attract loop."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.explorer import (
    ATTRACT_DWELL_S,
    ATTRACT_GLIDE_S,
    RANDOM_STEP,
    Attract,
    Explorer,
    ExplorerState,
    random_nearby,
)

LANDMARKS = [np.full(8, v, np.float32) for v in (-0.5, 0.0, 0.5)]


def explorer(z=0.0, seed=0) -> Explorer:
    return Explorer(
        ExplorerState(z=np.full(8, z, np.float32)),
        LANDMARKS,
        glide_s=1.0,
        print_names=["none", "tartan", "leopard"],
        rng=np.random.default_rng(seed),
    )


def test_random_is_a_design_nearby_and_jump_goes_anywhere():
    """The random button is documented as "a random design nearby"; it used to be a uniform jump."""
    rng = np.random.default_rng(1)
    z = np.full(8, 0.2, np.float32)
    steps = np.array([np.linalg.norm(random_nearby(z, rng) - z) for _ in range(200)])
    assert np.all(steps <= RANDOM_STEP + 1e-5) and np.all(steps > 0.3)
    e = explorer(0.2)
    e.random(now=0.0)
    e.state.update(10.0)
    assert e.state.how == "random" and 0 < np.linalg.norm(e.state.z - z) <= RANDOM_STEP + 1e-5
    jumps = []
    for seed in range(50):
        e = explorer(0.2, seed)
        e.jump()
        jumps.append(np.linalg.norm(e.state.z - z))
    assert np.mean(jumps) > 2 * RANDOM_STEP, "a hyperspace jump goes much further than random"


def test_random_at_the_edge_stays_in_range():
    rng = np.random.default_rng(2)
    for _ in range(100):
        z = random_nearby(np.ones(8, np.float32), rng)
        assert np.all(np.abs(z) <= 1.0)


def test_landmark_glide_is_eased_and_lands_exactly():
    e = explorer(0.0)
    e.next_landmark(now=0.0)
    assert e.state.landmark == 0 and e.state.glide is not None
    e.state.update(0.5)
    assert 0.0 > e.state.z[0] > -0.5, "halfway, not a jump cut"
    assert e.state.update(1.0) and np.array_equal(e.state.z, LANDMARKS[0]) and e.state.how == "landmark"
    e.next_landmark(now=1.0)
    assert e.state.landmark == 1


def test_moving_shows_the_design_on_the_canvas_again():
    e = explorer()
    e.state.paint(10, 10)
    assert e.state.canvas_drawn
    e.set_parameter(3, 0.7, "slider")
    assert not e.state.canvas_drawn and e.state.z[3] == pytest.approx(0.7) and e.state.how == "slider"


def test_next_print_cycles_and_says_when_there_is_nothing_to_cycle():
    e = explorer()
    assert [e.next_print() and e.state.print_name for _ in range(3)] == ["tartan", "leopard", "none"]
    lonely = Explorer(ExplorerState(z=np.zeros(8)), LANDMARKS, 1.0, ["none"])
    assert not lonely.next_print() and lonely.state.print_name == "none"
    assert not e.select_print("paisley") and e.select_print("leopard") and e.state.print_name == "leopard"


def test_attract_starts_after_the_delay_wanders_and_input_ends_it_where_it_is():
    e = explorer()
    attract = Attract(after_s=60.0, rng=np.random.default_rng(3))
    attract.update(e, now=59.0, last_input=0.0)
    assert not e.state.attract
    attract.update(e, now=60.0, last_input=0.0)
    assert e.state.attract and e.state.glide is not None and e.state.how == "attract"
    first = e.state.landmark
    t = 60.0
    while t < 60.0 + ATTRACT_GLIDE_S + ATTRACT_DWELL_S:
        t += 0.1
        e.state.update(t)
        attract.update(e, t, last_input=0.0)
    assert e.state.landmark != first, "it moves on to another landmark after resting"
    e.state.update(t + 0.3)
    here = e.state.z.copy()
    e.visitor_input()
    assert not e.state.attract and e.state.glide is None and np.array_equal(e.state.z, here)
