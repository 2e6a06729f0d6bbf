"""Pairing an edited frame with the input frame it was made from, by picture structure."""

from __future__ import annotations

import cv2
import numpy as np

from decart_cli.media.pairing import Pairing, structure
from decart_cli.media.sources import TestPattern, i420_frame


def frames(count: int) -> list:
    pattern = TestPattern(640, 352, 25)
    return [i420_frame(cv2.cvtColor(pattern.render(i), cv2.COLOR_BGR2YUV_I420)) for i in range(count)]


def edit(frame, rng: np.random.Generator):
    """What a server might send back: the picture inverted, with coding noise."""
    bgr = 255 - frame.to_ndarray(format="bgr24")
    noisy = np.clip(bgr.astype(np.int16) + rng.integers(-12, 13, bgr.shape), 0, 255).astype(np.uint8)
    return i420_frame(cv2.cvtColor(noisy, cv2.COLOR_BGR2YUV_I420))


def test_an_inverted_noisy_edit_is_matched_to_its_input_through_a_lag() -> None:
    """Edits received 6 frames (240 ms) after their inputs are shown beside those inputs, not beside the newest one."""
    rng = np.random.default_rng(7)
    inputs = frames(60)
    pairing = Pairing()
    lag = 6
    matched = []
    for i, frame in enumerate(inputs):
        now = i * 0.04
        pairing.record_input(frame, at=now)
        if i >= lag:
            got = pairing.match(edit(inputs[i - lag], rng), at=now + 0.001)
            matched.append(inputs.index(got) == i - lag)
    assert sum(matched[10:]) >= len(matched[10:]) - 1, matched
    assert abs(pairing.lag - lag * 0.04) < 0.01


def test_a_still_picture_shows_the_newest_input() -> None:
    """With no motion there is no distinct match: the newest input is shown, and no lag is learned from noise."""
    still = frames(1)[0]
    pairing = Pairing()
    for i in range(10):
        pairing.record_input(still, at=i * 0.04)
    assert pairing.match(still, at=0.5) is still and pairing.lag is None
    assert float(np.dot(structure(still), structure(still.to_ndarray(format="gray")))) > 0.99  # the Y plane read directly is the gray picture


def test_closest_pairs_each_edit_of_a_burst_with_its_own_input() -> None:
    """Edits that arrive in a burst (a stalled receiver catching up) are each paired with their own input by ``closest``; the smoothed pairing is off for most of them."""
    rng = np.random.default_rng(3)
    inputs = frames(40)
    pairing = Pairing()
    lag = 4
    for i, frame in enumerate(inputs):
        pairing.record_input(frame, at=i * 0.04)
        if lag <= i < 30:
            pairing.match(edit(inputs[i - lag], rng), at=i * 0.04 + 0.001)
    burst = [edit(inputs[i - lag], rng) for i in range(30, 40)]  # ten frames late, all at once
    at = 39 * 0.04 + 0.001
    assert [inputs.index(pairing.match(e, at=at, closest=True)) for e in burst] == list(range(30 - lag, 40 - lag))
    smoothed = [inputs.index(pairing.match(e, at=at)) for e in burst]
    assert sum(got == want for got, want in zip(smoothed, range(30 - lag, 40 - lag))) <= 3, smoothed


def test_around_gives_the_inputs_next_to_a_kept_one_nearest_first() -> None:
    """The inputs up to two before and after a kept one, nearest first (fewer at the ends of the history); none for a frame not kept."""
    inputs = frames(6)
    pairing = Pairing()
    for i, frame in enumerate(inputs):
        pairing.record_input(frame, at=i * 0.04)
    assert [inputs.index(f) for f in pairing.around(inputs[3])] == [3, 2, 4, 1, 5]
    assert [inputs.index(f) for f in pairing.around(inputs[0])] == [0, 1, 2]
    assert pairing.around(frames(1)[0]) == [] and pairing.around(None) == []
