"""One training configuration on one file, measured as mdlzip would store it (for ablations).

    python scripts/ablate.py FILE [--bytes N] [--layers 2] [--width 64] [--context 128] [--epochs 8]
                             [--sparsity 0.5] [--bits 5] [--lr 0.01] [--batch 16] [--threads 2]
                             [--regularizer magnitude] [--alpha 1e-4] [--beta 5] [--tolerance 0.02]
                             [--prelude 0.1] [--finetune 0.4] [--steps N] [--tamade-relative]

Prints one JSON line: steps, times, float training loss, and the real coded sizes (weights section
as the archive stores it, data streams) in bits per byte, beside xz -9e.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from mdlzip.classical import xz_size
from mdlzip.codec import arith
from mdlzip.codec.layout import STREAM_GROUP
from mdlzip.models.exact import ExactByteGPT
from mdlzip.models.stored import ByteGPTConfig
from mdlzip.sections import weights_section
from mdlzip.training.config import TrainConfig
from mdlzip.training.train import train_quantized


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    for name, kind, default in [("bytes", int, 0), ("layers", int, 2), ("width", int, 64), ("context", int, 128),
                                ("epochs", float, 8.0), ("sparsity", float, 0.5), ("bits", int, 5),
                                ("lr", float, 1e-2), ("batch", int, 16), ("threads", int, 2),
                                ("regularizer", str, "magnitude"), ("alpha", float, 1e-4), ("beta", float, 5.0),
                                ("tolerance", float, 0.02), ("prelude", float, 0.1), ("finetune", float, 0.4),
                                ("steps", int, 0)]:
        p.add_argument(f"--{name}", type=kind, default=default)
    p.add_argument("--tamade-relative", action="store_true", help="TAMADE threshold relative to each matrix's max")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = Path(a.file).read_bytes()
    data = data[:a.bytes] if a.bytes else data
    cfg = ByteGPTConfig(block_size=a.context, n_layer=a.layers, n_embd=a.width, weight_bits=a.bits)
    t0 = time.perf_counter()
    train = TrainConfig(epochs=a.epochs, batch_size=a.batch, lr=a.lr, sparsity=a.sparsity, regularizer=a.regularizer,
                        alpha=a.alpha, beta=a.beta, tolerance=a.tolerance, prelude_frac=a.prelude,
                        finetune_frac=a.finetune, tamade_relative=a.tamade_relative, **({"min_steps": a.steps, "max_steps": a.steps} if a.steps else {}))
    trained = train_quantized(data, cfg, train, torch.device("cpu"))
    stats, qm = trained.stats, trained.qm
    t1 = time.perf_counter()
    coded = len(arith.encode(ExactByteGPT(qm), data, STREAM_GROUP))
    t2 = time.perf_counter()
    n = len(data)
    weights = len(weights_section(qm))
    print(json.dumps(dict(vars(a), n=n, steps=stats.steps, train_s=round(t1 - t0, 1), code_s=round(t2 - t1, 1),
                          float_bpb=round(stats.final_loss_bits, 3), data_bpb=round(8 * coded / n, 3),
                          nonzeros=qm.num_nonzero(), nonzeros_before=stats.nonzeros_before,
                          rgp_removed=stats.rgp_removed, tamade_threshold=stats.tamade_threshold, weights_bytes=weights,
                          bits_per_nonzero=round(8 * weights / qm.num_nonzero(), 2),
                          total_bpb=round(8 * (coded + weights) / n, 3), xz_bpb=round(8 * xz_size(data) / n, 3))))


if __name__ == "__main__":
    main()
