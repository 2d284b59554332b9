"""Prequential code length: doubling blocks, each an actual encoding under a model trained on the past."""
from __future__ import annotations

import pytest

from mdlzip.codec import arith
from mdlzip.codec.layout import STREAM_GROUP
from mdlzip.models.exact import ExactByteGPT
from mdlzip.lab.prequential import LABEL, block_bounds, coded_size, prequential_code_length

pytestmark = pytest.mark.usefixtures("one_thread")


def test_block_bounds_double():
    assert block_bounds(1000, 100) == [(0, 100), (100, 200), (200, 400), (400, 800), (800, 1000)]
    assert block_bounds(50, 100) == [(0, 50)] and block_bounds(0, 8) == []
    with pytest.raises(ValueError):
        block_bounds(10, 0)


def test_block_code_is_an_actual_encoding(tiny_qmodel, text_sample):
    model, block = ExactByteGPT(tiny_qmodel), text_sample[:300]
    blob = arith.encode(model, block, STREAM_GROUP)
    assert coded_size(model, block) == len(blob)
    assert arith.decode(model, blob, len(block), STREAM_GROUP) == block


def test_constant_file_costs_little_after_the_first_block():
    result = prequential_code_length(b"a" * 1024, level=1, first_block=128, device="cpu")
    assert [(b.start, b.end) for b in result.blocks] == [(0, 128), (128, 256), (256, 512), (512, 1024)]
    first, *rest = result.blocks
    assert first.coded_bytes == 128 and result.label == LABEL == "bits of an actual encoding"
    assert all(b.bits_per_byte <= 1.5 for b in rest)  # the uniform code would spend 8
    assert result.total_bytes == sum(b.coded_bytes for b in result.blocks) <= 128 + 1.5 / 8 * 896
    assert result.to_dict()["bits_per_byte"] == pytest.approx(8 * result.total_bytes / 1024)
