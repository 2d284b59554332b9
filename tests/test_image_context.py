"""The `image` context kind (a bitmap's 2-D pixel neighbourhood, FORMAT.md 4.4.2) and its trial in
the context-set choice."""
import dataclasses

import numpy as np

from mdlzip.codec import mixer
from mdlzip.codec.cm_params import MixParams
from mdlzip.levels import CONTEXT_SETS, settings


def bitmap(rows: int = 160, row_bytes: int = 40, seed: int = 5) -> bytes:
    """A 1-bit picture, MSB-first rows of row_bytes bytes: white with black discs and bars, so a
    pixel is best told by the pixels above it and to its left, not by the bytes before it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :row_bytes * 8]
    ink = np.zeros((rows, row_bytes * 8), bool)
    for _ in range(12):
        cy, cx, r = rng.integers(0, rows), rng.integers(0, row_bytes * 8), rng.integers(5, 25)
        ink |= (y - cy) ** 2 + (x - cx) ** 2 < r * r
    for _ in range(6):
        top, left = rng.integers(0, rows - 8), rng.integers(0, row_bytes * 8 - 60)
        ink[top:top + rng.integers(2, 8), left:left + rng.integers(20, 60)] = True
    return np.packbits(ink, axis=1).tobytes()


def test_image_context_codes_a_bitmap_smaller_and_back():
    data = bitmap()
    base = MixParams().sized_for(len(data))
    without = dataclasses.replace(base, contexts=("1", "2", "3", "4", "6", "record"))
    with_image = dataclasses.replace(base, contexts=CONTEXT_SETS["image"])
    a, b = mixer.encode_adaptive(data, 1, without), mixer.encode_adaptive(data, 1, with_image)
    assert len(b) < 0.9 * len(a)
    assert mixer.decode_adaptive(b, len(data), 1, with_image) == data
    # in several lanes (each its own rows) too
    c = mixer.encode_adaptive(data, 3, with_image, block=40)
    assert mixer.decode_adaptive(c, len(data), 3, with_image, block=40) == data


def _trials(monkeypatch) -> list[tuple[str, ...]]:
    """The context sets choose_params encodes a sample with, in order."""
    seen, real = [], mixer.MixEncoder

    class Counting(real):
        def __init__(self, lane_start, lane_len, params, *args, **kwargs):
            seen.append(params.contexts)
            super().__init__(lane_start, lane_len, params, *args, **kwargs)

    monkeypatch.setattr(mixer, "MixEncoder", Counting)
    return seen


def test_the_image_set_is_tried_and_chosen_on_a_bitmap(monkeypatch):
    data = bitmap()
    plan = settings(6, len(data))
    assert any("image" in p.contexts for p in plan.mixer_alternatives)
    trials = _trials(monkeypatch)
    chosen = mixer.choose_params(data, (plan.mixer, *plan.mixer_alternatives))
    assert chosen.contexts == CONTEXT_SETS["image"]
    assert CONTEXT_SETS["image"] in trials


def test_the_image_set_is_not_tried_without_rows(monkeypatch):
    rng = np.random.default_rng(2)
    words = [bytes(rng.integers(97, 123, rng.integers(1, 9)).astype(np.uint8)) for _ in range(300)]
    text = b" ".join(words[i] + (b".\n" if rng.random() < 0.1 else b"") for i in rng.integers(0, 300, 8000))
    plan = settings(6, len(text))
    trials = _trials(monkeypatch)
    chosen = mixer.choose_params(text, (plan.mixer, *plan.mixer_alternatives))
    assert "image" not in chosen.contexts
    assert len(trials) == len(plan.mixer_alternatives)  # the level's own set and "dense": image skipped
