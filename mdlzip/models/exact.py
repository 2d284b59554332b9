"""Integer-exact inference of a quantized ByteGPT: the coding model of every archive.

Every value is an integer held in a float64 tensor. An operation is either exact on integers
(add, max, matmul with all partial sums below 2^53, indexing) or one correctly rounded IEEE-754
operation (multiply, divide, sqrt) followed by round/floor. Neither the summation order of a
matmul kernel nor the CPU, GPU, thread count, batch size or sequence split can change a result,
so encoder and decoder agree bit for bit on any machine. exp comes from tables computed with
Python's `decimal`, whose exp is correctly rounded. See FORMAT.md, "Coding model".

The bounds hold only where torch multiplies float32 in float32 and float64 in float64: on a GPU
(and on some CPUs) torch may compute float32 products with TF32 or bfloat16 inside, which rounds
the sums. `exact_products` holds every such setting off while the model runs, whatever the caller set.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np
import torch

from .stored import QuantizedModel
from .transformer import BOS, NORM_SCALE, ByteGPT, shift_right, weight_scale

RESIDUAL_BITS = 10  # the residual stream is held in units of 2^-10
RESIDUAL_MAX = 2.0**21 - 1  # |r| <= RESIDUAL_MAX keeps sum(r^2) < 2^53 for widths up to 2048
ATT_STEPS, ATT_RANGE, ATT_ONE = 64, 24, 2**20  # attention weights: exp(-k/64), k < 24*64, times 2^20
OUT_STEPS, OUT_RANGE, OUT_ONE = 256, 32, 2**32  # output frequencies: exp(-k/256), k < 32*256, times 2^32


@lru_cache(maxsize=None)
def exp_table(steps: int, span: int, one: int) -> tuple[int, ...]:
    """round(one * exp(-k/steps)) for k in 0..steps*span-1, then a final 0 (beyond the range)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return tuple(int((Decimal(-k) / steps).exp() * one + Decimal("0.5")) for k in range(steps * span)) + (0,)


def _precision_settings() -> list[tuple]:
    """(read, write, exact value) of each torch setting that lets a product or sum of floats be computed
    in less than its type: TF32 or bfloat16 inside float32 matrix products (cuBLAS, oneDNN on the CPU),
    cuDNN's TF32, and cuBLAS's reduced-precision reductions (float16 and bfloat16 products: none runs
    here, but no setting that lowers a product's precision is left on while the coding model runs)."""
    b = torch.backends
    attr = lambda ns, name, value: (lambda: getattr(ns, name), lambda v: setattr(ns, name, v), value)
    if hasattr(b.cuda.matmul, "fp32_precision"):  # torch >= 2.9 names them per backend, and refuses to read
        # the old names once a caller has set these
        held = [attr(b.cuda.matmul, "fp32_precision", "ieee"), attr(b.mkldnn.matmul, "fp32_precision", "ieee"),
                attr(b.cudnn.conv, "fp32_precision", "ieee")]
    else:
        held = [(torch.get_float32_matmul_precision, torch.set_float32_matmul_precision, "highest"),
                attr(b.cudnn, "allow_tf32", False)]
    return held + [attr(b.cuda.matmul, "allow_fp16_reduced_precision_reduction", False),
                   attr(b.cuda.matmul, "allow_bf16_reduced_precision_reduction", False)]


_held = {"depth": 0, "before": []}  # exact_products: how many hold the settings (threads decode blocks at once)
_held_lock = threading.Lock()


@contextmanager
def exact_products():
    """torch's products of floats in their own precision inside (see the module docstring); the
    caller's settings come back when the last holder leaves."""
    with _held_lock:
        if _held["depth"] == 0:
            settings = _precision_settings()
            _held["before"] = [(write, read()) for read, write, _ in settings]
            for _, write, exact in settings:
                write(exact)
        _held["depth"] += 1
    try:
        yield
    finally:
        with _held_lock:
            _held["depth"] -= 1
            if _held["depth"] == 0:
                for write, value in _held["before"]:
                    write(value)


def f32(x: float) -> float:
    """A scale as stored in the archive: the nearest float32, held as a Python float."""
    return float(np.float32(x))


@torch.no_grad()
def quantize(model: ByteGPT) -> QuantizedModel:
    """Freeze the trained model onto the grids it was trained with."""
    qmax = model.cfg.weight_qmax
    codes, wscales = {}, {}
    for name, m in model.prunable().items():
        w = (m.weight * m.mask).double().cpu()
        s = f32(weight_scale(w, qmax).item())
        codes[name] = torch.clamp(torch.round(w / s), -qmax, qmax).numpy().astype(np.int16)
        wscales[name] = s
    ascales = {name: f32(max(a.scale.item(), 1e-8)) for name, a in model.act_quants().items()}
    return QuantizedModel(model.cfg, codes, wscales, ascales)


def requant(acc: torch.Tensor, mult: float, lo: float, hi: float) -> torch.Tensor:
    return torch.clamp(torch.round(acc * mult), lo, hi)


def exact_weight(codes: torch.Tensor, x_max: int) -> torch.Tensor:
    """(out, in) codes -> (in, out) matrix for x @ W, in float32 where every sum of products of
    inputs |x| <= x_max stays below 2^24 (so float32 is exact), else float64."""
    bound = codes.abs().sum(1).max().item() * x_max
    return codes.T.contiguous().to(torch.float32 if bound < 2**24 else torch.float64)


def matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Exact product of integer activations and integer weights, returned as float64."""
    return (x.to(w.dtype) @ w).double()


class ExactByteGPT:
    """Integer inference with a key/value cache: `forward` takes any number of new positions."""

    def __init__(self, qm: QuantizedModel, device: str | torch.device = "cpu"):
        cfg, self.cfg, self.device = qm.cfg, qm.cfg, torch.device(device)
        t = lambda name: torch.tensor(qm.codes[name], dtype=torch.float64, device=self.device)
        ws, acts, one = qm.weight_scales, qm.act_scales, 2.0**RESIDUAL_BITS
        self.wte = torch.round(t("wte") * (ws["wte"] * one))  # (257, C) residual units
        self.wte2 = torch.round(t("wte2") * (ws["wte2"] * one))  # (257, C)
        self.wpe = torch.round(t("wpe") * (ws["wpe"] * one))  # (T, C)
        self.layers = []
        for i in range(cfg.n_layer):
            p, a = f"h.{i}.", lambda n: acts[f"h.{i}.{n}"]
            W = lambda n, x_max=127: exact_weight(t(p + n), x_max)
            self.layers.append(dict(
                q=W("attn.q"), k=W("attn.k"), v=W("attn.v"), proj=W("attn.proj"),
                fc=W("mlp.fc"), out=W("mlp.out", 255),
                mq=NORM_SCALE * ws[p + "attn.q"] / a("attn.q_act"),
                mk=NORM_SCALE * ws[p + "attn.k"] / a("attn.k_act"),
                mv=NORM_SCALE * ws[p + "attn.v"] / a("attn.v_act"),
                att=f32(a("attn.q_act") * a("attn.k_act") / math.sqrt(cfg.n_embd // cfg.n_head) * ATT_STEPS),
                mo=a("attn.v_act") / a("attn.o_act"),
                mproj=a("attn.o_act") * ws[p + "attn.proj"] * one,
                mfc=NORM_SCALE * ws[p + "mlp.fc"] / a("mlp.h_act"),
                mout=a("mlp.h_act") * ws[p + "mlp.out"] * one,
            ))
        self.head = exact_weight(t("lm_head"), 127)  # (C, 256)
        self.mhead = NORM_SCALE * ws["lm_head"] * OUT_STEPS
        lut = lambda *a: torch.tensor(exp_table(*a), dtype=torch.float64, device=self.device)
        self.att_lut, self.out_lut = lut(ATT_STEPS, ATT_RANGE, ATT_ONE), lut(OUT_STEPS, OUT_RANGE, OUT_ONE)
        self.norm_mult = math.sqrt(cfg.n_embd) / NORM_SCALE

    def new_cache(self, batch: int) -> dict:
        cfg = self.cfg
        shape = (batch, cfg.n_head, cfg.block_size, cfg.n_embd // cfg.n_head)
        kv = lambda dtype: [torch.zeros(shape, dtype=dtype, device=self.device) for _ in range(cfg.n_layer)]
        return {"pos": 0, "prev": torch.full((batch, 1), BOS, device=self.device),
                "k": kv(torch.float32), "v": kv(torch.float64)}

    def norm(self, r: torch.Tensor) -> torch.Tensor:
        """RMSNorm onto int8 codes of step NORM_SCALE: round(r * sqrt(C) * 32 / sqrt(sum r^2 + 1))."""
        q = (r * r).sum(-1, keepdim=True)
        return torch.clamp(torch.round(r * self.norm_mult / torch.sqrt(q + 1.0)), -127, 127)

    def attention(self, y: torch.Tensor, L: dict, cache: dict, i: int) -> torch.Tensor:
        B, n, C = y.shape
        nh, pos = self.cfg.n_head, cache["pos"]
        heads = lambda x: x.view(B, n, nh, C // nh).transpose(1, 2)  # (B, nh, n, hs)
        q = heads(requant(matmul(y, L["q"]), L["mq"], -127, 127)).float()
        cache["k"][i][:, :, pos:pos + n] = heads(requant(matmul(y, L["k"]), L["mk"], -127, 127))
        cache["v"][i][:, :, pos:pos + n] = heads(requant(matmul(y, L["v"]), L["mv"], -127, 127))
        k, v = cache["k"][i][:, :, :pos + n], cache["v"][i][:, :, :pos + n]  # (B, nh, pos+n, hs)
        s = q @ k.transpose(-1, -2)  # (B, nh, n, pos+n) integer scores, exact in float32 (|s| < 2^21)
        if n > 1:
            s = s + torch.full((n, pos + n), -math.inf, device=y.device).triu(pos + 1)
        idx = torch.floor((s.amax(-1, keepdim=True) - s) * L["att"])  # float32, masked -> inf
        a = self.att_lut[torch.clamp(idx, 0, len(self.att_lut) - 1).long()]  # float64, masked -> 0
        o = torch.round((a @ v) * L["mo"] / a.sum(-1, keepdim=True))
        o = torch.clamp(o, -127, 127).transpose(1, 2).reshape(B, n, C)
        return torch.round(matmul(o, L["proj"]) * L["mproj"])

    @torch.no_grad()
    @exact_products()
    def forward(self, idx: torch.Tensor, cache: dict) -> torch.Tensor:
        """idx (B, n) inputs at positions cache['pos']..+n -> integer frequencies (B, n, 256), float64
        on the model's device."""
        idx = idx.to(self.device)
        n, pos = idx.shape[1], cache["pos"]
        r = self.wte[idx] + self.wte2[shift_right(idx, cache["prev"])] + self.wpe[pos:pos + n]  # (B, n, C)
        for i, L in enumerate(self.layers):
            r = torch.clamp(r + self.attention(self.norm(r), L, cache, i), -RESIDUAL_MAX, RESIDUAL_MAX)
            h = requant(matmul(self.norm(r), L["fc"]), L["mfc"], 0, 255)
            r = torch.clamp(r + torch.round(matmul(h, L["out"]) * L["mout"]), -RESIDUAL_MAX, RESIDUAL_MAX)
        logits = matmul(self.norm(r), self.head)  # (B, n, 256) exact integers
        k = torch.floor((logits.amax(-1, keepdim=True) - logits) * self.mhead)
        cache["pos"], cache["prev"] = pos + n, idx[:, -1:]
        return self.out_lut[torch.clamp(k, 0, len(self.out_lut) - 1).long()]


def chunk_inputs(chunks: torch.Tensor) -> torch.Tensor:
    """(B, T) bytes -> (B, T) model inputs: BOS, then each byte but the last."""
    return torch.cat([torch.full_like(chunks[:, :1], BOS), chunks[:, :-1]], dim=1)
