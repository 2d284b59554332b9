"""The mixed coder's steps in one numba call: the transformer (models/exact_numba) and the
context-mixing kernel (cm_kernel) advance the lanes together, without a return to Python per step.

It computes exactly what mixed.py's step-by-step loop computes (the same model frequencies, the
same `code_step` in the same lane order), so the coded bits are the same; it only removes the
Python work around each step, which is most of the time of a block of few lanes (a dataset's
record). Contract of `code_model_steps`: code whole steps from `step` to at most `until`; at each
step the lanes with a byte left, in order, get the model's frequencies (each lane's chunk restarts
every `block` bytes: BOS first, then the lane's previous byte) and are coded by `code_step`; it
stops early where the encoder's output could overflow in the next step (COMPRESS) or the decoder
has read more than `overrun` bytes past its data (DECOMPRESS), and returns the next step.
"""
from __future__ import annotations

import llvmlite.binding
import numpy as np
from numba import njit, types

from ..models.exact_numba import _step as model_step
from ..models.transformer import BOS
from . import cm_kernel as K

# cm_kernel.c's cm_code_step, called by its name (numba caches code that calls a named symbol; the address
# is bound in each process here, before any compiled code loads)
llvmlite.binding.add_symbol("cm_code_step", K.CODE_STEP_ADDRESS)
_code_step = types.ExternalFunction("cm_code_step", types.void(types.int64, types.uintp, types.int64, types.uintp,
                                                               types.uintp, types.uintp))


@njit(cache=True, nogil=True)
def code_model_steps(mode, src, step, until, block, st, last, overrun, pos, prev, kc, vc, wte, wte2, wpe, attw,
                     fc, fout, hidden, mult, att, head, scalars, att_lut, out_lut):
    lane_tab, regs = st.lane_tab, st.regs
    n_lanes = lane_tab.shape[0]
    longest = 0
    for j in range(n_lanes):
        longest = max(longest, int(lane_tab[j, K.LANE_LEN]))
    rows, inputs, syms = np.empty(n_lanes, np.int64), np.empty(n_lanes, np.int64), np.empty(n_lanes, np.int64)
    freqs = np.empty((n_lanes, 256))
    while step < min(longest, until):
        if mode == K.COMPRESS and regs[K.REG_OUT] + K.OUT_PER_BYTE * n_lanes + K.OUT_MARGIN > st.out.shape[0]:
            break
        at_start = step % block == 0
        n = 0
        for j in range(n_lanes):
            if lane_tab[j, K.LANE_LEN] > step:
                rows[n] = j
                if at_start:  # a new chunk of this lane: the model's context restarts
                    pos[j], prev[j] = 0, BOS
                inputs[n] = BOS if at_start else last[j]
                syms[n] = src[lane_tab[j, K.LANE_START] + step] if mode == K.COMPRESS else 0
                n += 1
        model_step(inputs[:n], rows[:n], pos, prev, kc, vc, wte, wte2, wpe, attw, fc, fout, hidden, mult, att,
                   head, scalars, att_lut, out_lut, freqs[:n])
        _code_step(mode, rows.ctypes.data, n, freqs.ctypes.data, syms.ctypes.data, st.words.ctypes.data)
        for i in range(n):
            last[rows[i]] = syms[i]
        step += 1
        if mode == K.DECOMPRESS and regs[K.REG_IN] > st.blob.shape[0] + overrun:
            break
    return step
