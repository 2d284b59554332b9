"""Numba kernels of the context-mixing coder: models, mixer, APMs and a binary arithmetic coder.

One function, `code_byte`, both encodes and decodes (`mode` 0 / 1), so the two sides run the same
model code. Every quantity that decides a coded bit is an integer in a fixed-size table; the squash
and stretch tables come from 33 integer knots, so any machine computes identical bits.

The arithmetic coder is a carry-less 32-bit binary coder (an interval [x1, x2] narrowed by a 12-bit
probability per bit, leading bytes shifted out once x1 and x2 agree), written here because the
project's range coder (constriction) has no per-bit API callable from numba code.

State is one tuple of numpy arrays (`State` in mixer.py builds it):
    data, known   the n file bytes as far as coded, and which of them are known to both sides
    lane_tab      (L, 9) int64 per lane: start, length, bytes done, word hash, previous word hash,
                  match pointer, match length, current line start, previous line start (-1: none)
    ht            hashed context slots (uint32): 16-slot buckets, slot 0 a check, 1..15 a nibble tree
    t0, t1        direct order-0 (256) and order-1 (65536) counters
    mtab          match table, 2 int32 positions per hash bucket (newest first)
    msm           match strength counters (64)
    wa, wb, wc    mixer weights (int32), selected by the partial byte / by match state, context hits
                  and bit position / by the previous byte
    apm1, apm2    APM tables (uint16, 33 knots per context): order 0 and order 1
    regs          coder registers: x1, x2, x (decoder), output position, input position
    out, blob     encoder output buffer / decoder input
    cfg           parameters (see CFG_* below); orders the hashed context kinds
    cum, hsh, base, x  scratch: transformer cumulative frequencies, context hashes, bucket bases,
                  mixer inputs
    apm3          APM table for the order-2 context (8 hashed bits) with the partial byte
    wf, xf        final mixer weights (256, 4) over the four mixers' outputs, selected by the
                  partial byte, and its scratch inputs
    wd            weights of a fourth mixer, selected by the byte before the previous one
A counter is a uint32: a 22-bit probability of a 1 above a 10-bit count that sets its rate.
"""
from __future__ import annotations

import numpy as np
from numba import njit

M32 = 0xFFFFFFFF
# round(4096 / (1 + exp(-x / 256))) at x = -2048, -1920, ..., 2048: the knots squash interpolates
SQUASH_KNOTS = (1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
                2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092,
                4094, 4095)
CFG_HASH_MASK, CFG_MATCH_MASK, CFG_MATCH_MIN, CFG_LIMIT, CFG_LR, CFG_APM_RATE = range(6)
WORD, WORD_PAIR, COLUMN = 100, 101, 102  # context kinds besides the orders 1..MAX_ORDER
MAX_ORDER = 32
N_FIXED = 5  # mixer inputs besides the hashed contexts: bias, order 0, order 1, match, transformer
PER_CONTEXT = 2  # mixer inputs per hashed context: stretch(p) and a count-scaled one
COUNTER_INIT = 1 << 31  # probability 1/2, count 0
MAX_MATCH_CHECK = 32
FINAL_LR = 2  # learning rate of the final mixer over the three mixers' outputs


def squash_table() -> np.ndarray:
    """squash(d) for d in [-2048, 2047] (index d + 2048): 12-bit probability of the logit d/256."""
    k = SQUASH_KNOTS
    out = np.empty(4096, np.int64)
    for d in range(-2048, 2048):
        w, i = d & 127, (d >> 7) + 16
        out[d + 2048] = (k[i] * (128 - w) + k[i + 1] * w + 64) >> 7
    return np.clip(out, 1, 4095)


def stretch_table(squash: np.ndarray) -> np.ndarray:
    """stretch(p) for p in [0, 4095]: the smallest d with squash(d) >= p (the inverse, by search)."""
    return np.searchsorted(squash, np.arange(4096), side="left").astype(np.int64) - 2048


def rate_table() -> np.ndarray:
    """Counter step 65536 / (n + 1.5) after n observations."""
    n = np.arange(1024, dtype=np.int64)
    return 131072 // (2 * n + 3)


@njit(cache=True)
def _mix32(x):
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & M32
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & M32
    return x ^ (x >> 16)


@njit(cache=True)
def _update(t, i, bit, rec, limit):
    """Move counter t[i] toward bit at rate 1 / (n + 1.5), n capped at limit."""
    v = int(t[i])
    p, n = v >> 10, v & 1023
    if bit:
        p += ((4194303 - p) * int(rec[n])) >> 16
    else:
        p -= (p * int(rec[n])) >> 16
    if n < limit:
        n += 1
    t[i] = (p << 10) | n


@njit(cache=True)
def _bucket(ht, h, c0, mask):
    """Base of the 16-slot bucket for context hash h and partial nibble c0; (base, was present)."""
    hb = _mix32((h + c0 * 0x9E3779B1) & M32)
    chk = _mix32(hb ^ 0x5BD1E995) & 0xFFFF
    i0 = (hb & mask) << 4
    i1 = ((hb & mask) ^ 1) << 4
    if ht[i0] == chk:
        return i0, 1
    if ht[i1] == chk:
        return i1, 1
    i = i0 if (int(ht[i0 + 1]) & 1023) <= (int(ht[i1 + 1]) & 1023) else i1
    ht[i] = chk
    for k in range(1, 16):
        ht[i + k] = COUNTER_INIT
    return i, 0


@njit(cache=True)
def _apm(t, ctx, p, stretch):
    """Refined probability and the index of the knot to train, from an interpolated APM row."""
    s = int(stretch[p]) + 2048
    lo, w = s >> 7, s & 127
    i = ctx * 33 + lo
    q = (int(t[i]) * (128 - w) + int(t[i + 1]) * w) >> 11
    return min(max(q, 1), 4095), i + (w >> 6)


@njit(cache=True)
def _train_apm(t, i, bit, rate):
    v = int(t[i])
    t[i] = v + (((65535 if bit else 0) - v) >> rate)


@njit(cache=True)
def _dot(w, row, x, n):
    s = 0
    for i in range(n):
        s += int(w[row, i]) * int(x[i])
    return min(max(s >> 16, -2047), 2047)


@njit(cache=True)
def _train(w, row, x, n, err):
    for i in range(n):
        v = int(w[row, i]) + ((int(x[i]) * err) >> 14)
        w[row, i] = min(max(v, -16777215), 16777215)


@njit(cache=True)
def _context_hashes(data, lane_tab, orders, j, pos, s, c1, hsh):
    """Hash of each context kind of lane j before pos (orders increasing, word kinds last)."""
    r, i = 0, 0
    for k in range(orders.shape[0]):
        o = int(orders[k])
        salt = ((k + 1) * 0x9E3779B1) & M32
        if o == WORD:
            h = _mix32((_mix32(int(lane_tab[j, 3]) ^ salt) + c1) & M32)
        elif o == WORD_PAIR:
            h = _mix32((_mix32(int(lane_tab[j, 3]) ^ salt) + int(lane_tab[j, 4])) & M32)
        elif o == COLUMN:
            ls, ps = int(lane_tab[j, 7]), int(lane_tab[j, 8])
            col = pos - ls
            above = int(data[ps + col]) if ps >= 0 and ps + col < ls else 256
            h = _mix32((_mix32((above << 8 | min(col, 255)) ^ salt) + c1) & M32)
        else:
            while i < o:
                i += 1
                r = ((r + (int(data[pos - i]) if i <= s else 0) + 1) * 0x2F0B4A73) & M32
            h = _mix32(r ^ salt)
        hsh[k] = h


@njit(cache=True)
def _find_match(data, known, lane_tab, mtab, cfg, j, pos, s, c4, c8):
    """Keep lane j's match if its next byte is known, else look one up; then index pos."""
    n, mmin = data.shape[0], int(cfg[CFG_MATCH_MIN])
    if lane_tab[j, 6] > 0:
        p = int(lane_tab[j, 5])
        if p >= n or known[p] == 0:
            lane_tab[j, 6] = 0
    if s < mmin:
        return
    lo = c4 if mmin >= 4 else c4 & ((1 << (8 * mmin)) - 1)
    hi = c8 & ((1 << (8 * max(mmin - 4, 0))) - 1)
    b = (_mix32(_mix32(lo ^ 0x7F4A7C15) ^ hi) & int(cfg[CFG_MATCH_MASK])) << 1
    if lane_tab[j, 6] == 0:
        start, best, best_p = pos - s, 0, 0
        for k in range(2):
            cand = int(mtab[b + k])
            if cand <= 0 or cand >= n or known[cand] == 0:
                continue
            ln = 0
            while ln < MAX_MATCH_CHECK:
                a, c = pos - 1 - ln, cand - 1 - ln
                if a < start or c < 0 or known[c] == 0 or data[c] != data[a]:
                    break
                ln += 1
            if ln >= mmin and ln > best:
                best, best_p = ln, cand
        if best > 0:
            lane_tab[j, 5], lane_tab[j, 6] = best_p, best
    if mtab[b] != pos:
        mtab[b + 1] = mtab[b]
        mtab[b] = pos


@njit(cache=True)
def code_byte(mode, j, sym, frow, st, sq, stt, rec):
    """Encode (mode 0) sym, or decode (mode 1), as lane j's next byte; returns the byte.
    frow: the transformer's 256 frequencies, or an empty array for uniform ones."""
    (data, known, lane_tab, ht, t0, t1, mtab, msm, wa, wb, wc, apm1, apm2, regs, out, blob,
     cfg, orders, cum, hsh, base, x, wf, xf, apm3, wd) = st
    nh = orders.shape[0]
    nin = PER_CONTEXT * nh + N_FIXED
    mask, limit, lr, arate = int(cfg[CFG_HASH_MASK]), int(cfg[CFG_LIMIT]), int(cfg[CFG_LR]), int(cfg[CFG_APM_RATE])
    start, s, sym = int(lane_tab[j, 0]), int(lane_tab[j, 2]), int(sym)
    pos = start + s
    c4, c8 = 0, 0
    for i in range(1, 9):
        b = int(data[pos - i]) if i <= s else 0
        if i <= 4:
            c4 |= b << (8 * (i - 1))
        else:
            c8 |= b << (8 * (i - 5))
    c1, c2 = c4 & 255, (c4 >> 8) & 255
    h2 = (_mix32(c4 & 65535) & 255) << 8
    _context_hashes(data, lane_tab, orders, j, pos, s, c1, hsh)
    _find_match(data, known, lane_tab, mtab, cfg, j, pos, s, c4, c8)
    mlen = int(lane_tab[j, 6])
    eb = int(data[lane_tab[j, 5]]) | 256 if mlen > 0 else 0
    mb = mlen if mlen < 16 else 16 + min((mlen - 16) >> 3, 15)
    total = 0
    cum[0] = 0
    for v in range(frow.shape[0]):
        f = frow[v]
        if not f >= 0.0:
            f = 0.0
        elif f > 8589934592.0:
            f = 8589934592.0
        total += int(f)
        cum[v + 1] = total
    x1, x2, xx, op, ip = int(regs[0]), int(regs[1]), int(regs[2]), int(regs[3]), int(regs[4])
    c0, found, nib = 1, 0, 1
    for bp in range(8):
        if bp == 0 or bp == 4:
            found, nib = 0, 1
            for i in range(nh):
                bi, hit = _bucket(ht, int(hsh[i]), c0, mask)
                base[i] = bi
                found += hit
        # inputs
        x[0] = 256
        x[1] = stt[int(t0[c0]) >> 20]
        x[2] = stt[int(t1[(c1 << 8) | c0]) >> 20]
        for i in range(nh):
            v = int(ht[base[i] + nib])
            st_ = int(stt[v >> 20])
            x[3 + i] = st_
            x[5 + nh + i] = (st_ * (min(v & 1023, 31) + 1)) >> 5
        midx, ms = -1, 0
        if mlen > 0 and (eb >> (8 - bp)) == c0:
            midx = mb * 2 + ((eb >> (7 - bp)) & 1)
            x[3 + nh] = stt[int(msm[midx]) >> 20]
            ms = 1 if mlen < 16 else (2 if mlen < 32 else 3)
        else:
            x[3 + nh] = 0
        size = 256 >> bp
        lo = (c0 - (1 << bp)) * size
        tot = cum[lo + size] - cum[lo] if total > 0 else 0
        if tot > 0:
            pt = ((cum[lo + size] - cum[lo + (size >> 1)]) * 4096 + (tot >> 1)) // tot
            pt = min(max(pt, 1), 4095)
        else:
            pt = 2048
        x[4 + nh] = stt[pt]
        # mixing and refinement
        sa = c0
        sb = ((ms * (nh + 1)) + found) * 8 + bp
        da = _dot(wa, sa, x, nin)
        db = _dot(wb, sb, x, nin)
        dc = _dot(wc, c1, x, nin)
        dd = _dot(wd, c2, x, nin)
        pa, pb, pc = int(sq[da + 2048]), int(sq[db + 2048]), int(sq[dc + 2048])
        xf[0], xf[1], xf[2], xf[3] = da, db, dc, dd
        pm = int(sq[_dot(wf, c0, xf, 4) + 2048])
        p1, i1 = _apm(apm1, c0, pm, stt)
        p2, i2 = _apm(apm2, (c1 << 8) | c0, pm, stt)
        p3, i3 = _apm(apm3, h2 + c0, pm, stt)
        p = min(max((2 * pm + p1 + 3 * p2 + 2 * p3 + 4) >> 3, 1), 4095)
        # code the bit
        rng = x2 - x1
        xmid = x1 + (rng >> 12) * p + (((rng & 4095) * p) >> 12)
        if mode == 0:
            bit = (sym >> (7 - bp)) & 1
        else:
            bit = 1 if xx <= xmid else 0
        if bit:
            x2 = xmid
        else:
            x1 = xmid + 1
        while ((x1 ^ x2) & 0xFF000000) == 0:
            if mode == 0:
                out[op] = x2 >> 24
                op += 1
            else:
                xx = ((xx << 8) & M32) | (int(blob[ip]) if ip < blob.shape[0] else 0)
                ip += 1
            x1 = (x1 << 8) & M32
            x2 = ((x2 << 8) & M32) | 255
        # learn
        _update(t0, c0, bit, rec, limit)
        _update(t1, (c1 << 8) | c0, bit, rec, limit)
        for i in range(nh):
            _update(ht, base[i] + nib, bit, rec, limit)
        if midx >= 0:
            _update(msm, midx, bit, rec, 1023)
        _train(wa, sa, x, nin, ((bit << 12) - pa) * lr)
        _train(wb, sb, x, nin, ((bit << 12) - pb) * lr)
        _train(wc, c1, x, nin, ((bit << 12) - pc) * lr)
        _train(wd, c2, x, nin, ((bit << 12) - int(sq[dd + 2048])) * lr)
        _train(wf, c0, xf, 4, ((bit << 12) - pm) * FINAL_LR)
        _train_apm(apm1, i1, bit, arate)
        _train_apm(apm2, i2, bit, arate)
        _train_apm(apm3, i3, bit, arate)
        c0 = (c0 << 1) | bit
        nib = (nib << 1) | bit
    regs[0], regs[1], regs[2], regs[3], regs[4] = x1, x2, xx, op, ip
    c = c0 & 255
    data[pos] = c
    known[pos] = 1
    lane_tab[j, 2] = s + 1
    if mlen > 0:
        if (eb & 255) == c:
            lane_tab[j, 5] += 1
            lane_tab[j, 6] = min(mlen + 1, 65535)
        else:
            lane_tab[j, 6] = 0
    if c == 10:
        lane_tab[j, 8] = lane_tab[j, 7]
        lane_tab[j, 7] = pos + 1
    if c >= 128 or 65 <= c <= 90 or 97 <= c <= 122:
        lane_tab[j, 3] = ((lane_tab[j, 3] * 0x2F0B4A73) + (c | 32) + 1) & M32
    elif lane_tab[j, 3] != 0:
        lane_tab[j, 4] = lane_tab[j, 3]
        lane_tab[j, 3] = 0
    return c


@njit(cache=True)
def code_step(mode, lanes, freqs, syms, st, sq, stt, rec):
    """Code one step: the next byte of each lane in `lanes` (increasing), under its row of freqs."""
    for k in range(lanes.shape[0]):
        syms[k] = code_byte(mode, int(lanes[k]), int(syms[k]), freqs[k], st, sq, stt, rec)


@njit(cache=True)
def code_adaptive(mode, src, step, st, sq, stt, rec, ones):
    """Code whole steps from `step` with uniform transformer input (`ones` empty), until done or
    the output buffer could overflow in the next step; returns the next step. Encodes src (mode 0)."""
    lane_tab, regs, out = st[2], st[13], st[14]
    n_lanes = lane_tab.shape[0]
    longest = 0
    for j in range(n_lanes):
        longest = max(longest, int(lane_tab[j, 1]))
    while step < longest:
        if mode == 0 and regs[3] + 32 * n_lanes + 8 > out.shape[0]:
            break
        for j in range(n_lanes):
            if lane_tab[j, 1] > step:
                code_byte(mode, j, int(src[lane_tab[j, 0] + step]), ones, st, sq, stt, rec)
        step += 1
    return step
