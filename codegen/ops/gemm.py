"""Weight layouts for the GEMM-style kernels (tx_conv2d_gemm_s8, ...).

The kernels multiply int16 pair words (two int16 values in one 32-bit word,
lo in bits 0-15, hi in bits 16-31; tx_pair in tx_common.h) so that on cores
with the DSP extension one SMLAD does two multiply-accumulates. Activations
are widened at run time by tx_widen4_s8, which turns each group of 4 int8
values [k0 k1 k2 k3] into the words (k0, k2) and (k1, k3) -- the order the
SXTB16 instruction produces. Weights are constants, so they are widened and
put into that same order here, once, at generation time.
"""

from __future__ import annotations

import numpy as np

from ..fixedpoint import rounding_divide_by_pot, saturating_rounding_doubling_high_mul

# Slot s of a group of 4 holds element GROUP_ORDER[s]: words (k0, k2), (k1, k3).
GROUP_ORDER = (0, 2, 1, 3)
ROW_MULTIPLE = 8  # columns are padded to a multiple of 8 elements (the kernels read 2 x 2 words per step)


def padded_length(k: int, multiple: int = ROW_MULTIPLE) -> int:
    """Column length rounded up to `multiple`."""
    return -(-k // multiple) * multiple


def pair_words(rows: np.ndarray, multiple: int = ROW_MULTIPLE) -> np.ndarray:
    """int8 rows [R][K] -> int32 pair words [R][padded_length(K, multiple) / 2] in the kernels' element order.

    The zero padding of each row multiplies the column's zero padding, so it
    adds nothing to any sum. `multiple` is a multiple of 4.
    """
    r, k = rows.shape
    kp = padded_length(k, multiple)
    padded = np.zeros((r, kp), dtype=np.int64)
    padded[:, :k] = rows.astype(np.int64)
    ordered = padded.reshape(r, kp // 4, 4)[:, :, GROUP_ORDER].reshape(r, kp)
    lo, hi = ordered[:, 0::2], ordered[:, 1::2]
    return ((lo & 0xFFFF) | (hi << 16)).astype(np.int32)  # hi * 2^16 + lo fits int32 for int16 hi


def unpack_pair_words(words: np.ndarray, k: int) -> np.ndarray:
    """Inverse of pair_words (for tests): int32 words [R][W] -> int8 rows [R][k]."""
    w = words.astype(np.int64)
    lo = ((w & 0xFFFF) ^ 0x8000) - 0x8000
    hi = w >> 16
    ordered = np.empty((w.shape[0], 2 * w.shape[1]), dtype=np.int64)
    ordered[:, 0::2], ordered[:, 1::2] = lo, hi
    r, kp = ordered.shape
    rows = np.empty_like(ordered)
    rows.reshape(r, kp // 4, 4)[:, :, GROUP_ORDER] = ordered.reshape(r, kp // 4, 4)
    return rows[:, :k].astype(np.int8)


def channel_pair_words(rows: np.ndarray) -> np.ndarray:
    """pair_words of [R][K] rows, two rows interleaved per group of 4 elements (tx_conv2d_gemm_s8.c).

    Result [ceil(R / 2) * padded_length(K) / 2]: for rows 2c and 2c+1 and each
    group g, the words [2c: 2g, 2g+1, 2c+1: 2g, 2g+1]. An odd R gets a zero row.
    """
    words = pair_words(rows)
    r, cw = words.shape
    if r % 2:
        words = np.vstack([words, np.zeros((1, cw), dtype=np.int32)])
    pairs = words.reshape(-1, 2, cw // 2, 2).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(pairs).reshape(-1)


def packed_channel_words(rows: np.ndarray) -> np.ndarray:
    """int8 rows [R][K] -> int32 words [ceil(R / 2) * padded_length(K) / 4]: the optimize=size layout.

    Each word holds one group of 4 int8 values [k0 k1 k2 k3] of one row as
    k0 | k1 << 8 | k2 << 16 | k3 << 24 (little-endian bytes), so SXTB16 gives
    the pair word (k0, k2) and SXTB16 with ROR #8 gives (k1, k3): the words
    channel_pair_words stores, widened in the kernel. Rows 2c and 2c+1 are
    interleaved per group: [2c: g, 2c+1: g] for each group g. Rows are padded
    with zeros to padded_length(K); an odd R gets a zero row.
    """
    r, k = rows.shape
    kp = padded_length(k)
    padded = np.zeros((r + r % 2, kp), dtype=np.uint8)
    padded[:r, :k] = rows.astype(np.int8).view(np.uint8)
    words = padded.reshape(-1, kp // 4, 4).astype(np.uint32)
    words = words[..., 0] | words[..., 1] << 8 | words[..., 2] << 16 | words[..., 3] << 24  # [R'][groups]
    pairs = words.reshape(-1, 2, kp // 4).transpose(0, 2, 1)  # [R'/2][groups][2]
    return np.ascontiguousarray(pairs).reshape(-1).view(np.int32)


def unpack_packed_words(words: np.ndarray, r: int, k: int) -> np.ndarray:
    """Inverse of packed_channel_words (for tests): int32 words -> int8 rows [r][k]."""
    kp = padded_length(k)
    b = np.ascontiguousarray(words, dtype=np.int32).view(np.uint32)
    b = b.reshape(-1, kp // 4, 2).transpose(0, 2, 1).reshape(-1, kp // 4)
    out = np.stack([(b >> (8 * j)) & 0xFF for j in range(4)], axis=-1).astype(np.uint8).view(np.int8)
    return out.reshape(-1, kp)[:r, :k]


def frame_channels(in_c: int) -> int:
    """tx_conv2d_rows_s8's int16 values per widened pixel: in_c rounded up to 4 or 6 (0: not a rows shape)."""
    return 4 if 2 <= in_c <= 4 else 6 if 5 <= in_c <= 6 else 0


def rows_channel_words(weights: np.ndarray, frame_c: int) -> np.ndarray:
    """int8 weights [O][KH][KW][C] (O even, C <= frame_c) -> int32 words: tx_conv2d_rows_s8's layout.

    Per channel pair (2p, 2p+1), per kernel row ky, the row's L = KW * frame_c values v[k]
    (k = kx * frame_c + c, zero for the padding channels c >= C) in groups of 4: one word per
    channel, bytes [v0 v2 v1 v3], so SXTB16 gives the pair (v0, v1) and SXTB16 with ROR #8
    (v2, v3), the order the widened input lies in; when L % 4 == 2, one last word for both
    channels, bytes [ch0 v0, ch1 v0, ch0 v1, ch1 v1]. Result [O / 2][KH][2 * (L // 4) + L % 4 // 2].
    """
    o, kh, kw, c = weights.shape
    v = np.zeros((o, kh, kw, frame_c), dtype=np.int8)
    v[..., :c] = weights
    v = v.reshape(o, kh, kw * frame_c).view(np.uint8).astype(np.uint32)
    length = kw * frame_c
    groups = length // 4
    body = v[:, :, :4 * groups].reshape(o, kh, groups, 4)
    words = body[..., 0] | body[..., 2] << 8 | body[..., 1] << 16 | body[..., 3] << 24  # [O][KH][G]
    pairs = words.reshape(o // 2, 2, kh, groups).transpose(0, 2, 3, 1).reshape(o // 2, kh, 2 * groups)
    if length % 4:
        t = v[:, :, 4 * groups:].reshape(o // 2, 2, kh, 2)  # [pair][channel][row][value]
        last = t[:, 0, :, 0] | t[:, 1, :, 0] << 8 | t[:, 0, :, 1] << 16 | t[:, 1, :, 1] << 24  # [pair][row]
        pairs = np.concatenate([pairs, last[..., None]], axis=2)
    return np.ascontiguousarray(pairs).reshape(-1).view(np.int32)


RECORD_WORDS = 6  # words per channel in requant_records


def requant_records(mults: np.ndarray, shifts: np.ndarray, max_abs_acc: np.ndarray) -> np.ndarray | None:
    """Per-channel constants [channels][6] for tx_output_rs (tx_common.h), or None.

    Record c is {multiplier, high-word shift, rounding constant low word,
    high word, pre-shift, negative mask}:
    - right shift r = -shift >= 1: {m, r - 1, 2^30 + 2^(30 + r), 0, 0x80000000}
      (TFLM's two roundings folded into one, see tx_requantize_rs);
    - left shift l = shift >= 0: {m, 0, 2^31, l + 1, 0}: TFLM's
      SRDHM(acc << l, m) = floor((acc * 2^(l+1) * m + 2^31) / 2^32), exact
      when acc * 2^(l+1) cannot overflow int32, i.e. max_abs_acc[c] < 2^(30 - l).
    None (the layer goes to the reference kernel) when that does not hold.
    A zero multiplier (zero scale) gets an all-zero record: the result is 0.
    `max_abs_acc` is each channel's largest possible |accumulator|.
    """
    rows = []
    bounds = np.broadcast_to(np.asarray(max_abs_acc, dtype=np.int64), np.shape(mults))
    for m, shift, bound in zip(np.asarray(mults, dtype=np.int64), np.asarray(shifts, dtype=np.int64), bounds):
        if m == 0:
            rows.append((0, 0, 0, 0, 0))  # a zero scale: TFLM's result is 0 whatever acc is
        elif shift <= -1:
            r = -int(shift)
            rows.append((int(m), r - 1, (1 << 30) + (1 << (30 + r)), 0, 1 << 31))
        else:
            if bound >= 1 << (30 - int(shift)):
                return None
            rows.append((int(m), 0, 1 << 31, int(shift) + 1, 0))
    records = np.array([(m, hs, rnd & 0xFFFFFFFF, rnd >> 32, pre, mask) for m, hs, rnd, pre, mask in rows],
                       dtype=np.int64).reshape(-1, RECORD_WORDS)
    return ((records + 2**31) % 2**32 - 2**31).astype(np.int32)  # words as two's complement int32


FAST_MAX_RIGHT_SHIFT = 22  # tx_mr: 2^(r-1) + 128 * 2^r < 2^30


def fast_requant(mults: np.ndarray, shifts: np.ndarray, max_abs_acc: np.ndarray):
    """(multipliers, shifts) for tx_mr (tx_common.h: one SMMULR, one per-channel constant), or None.

    tx_mr is exact for a channel with a right shift r = -shift in [1, FAST_MAX_RIGHT_SHIFT] (or a
    zero multiplier) when every |acc| < 2^30, so that 2 * acc fits int32. A channel with a larger
    r whose |SRDHM(acc, m)| stays below 2^(r-1) always rounds to 0 (its output is the zero point,
    clamped): it gets multiplier 0. None when some channel fits neither.
    """
    m = np.asarray(mults, dtype=np.int64).copy()
    sh = np.asarray(shifts, dtype=np.int64).copy()
    bound = np.broadcast_to(np.asarray(max_abs_acc, dtype=np.int64), m.shape)
    if np.any(bound >= 2**30):
        return None
    v_bound = (bound * m + 2**30) >> 31  # the largest |SRDHM(acc, m)|
    right = (sh <= -1) & (sh >= -FAST_MAX_RIGHT_SHIFT)
    vanishes = (sh < -FAST_MAX_RIGHT_SHIFT) & (v_bound < (np.int64(1) << np.minimum(-sh - 1, 62)))
    if not np.all(right | (m == 0) | vanishes):
        return None
    m[vanishes] = 0
    sh[m == 0] = -1
    return m.astype(np.int32), sh.astype(np.int8)


def tflm_output(acc: int, m: int, shift: int, z: int, lo: int, hi: int) -> int:
    """TFLM's int8 output of accumulator acc: MultiplyByQuantizedMultiplier (double rounding) + z, clamped."""
    v = saturating_rounding_doubling_high_mul(acc * (1 << max(shift, 0)), m)
    return min(max(rounding_divide_by_pot(v, max(-shift, 0)) + z, lo), hi)


def fast_output(acc: int, m: int, r: int, z: int, lo: int, hi: int) -> int:
    """tx_mr's output (tx_common.h: one SMMULR of 2 * acc, record {m, 2^(r-1) + z * 2^r, r}), clamped."""
    v = (2 * acc * m + 2**31) >> 32
    return min(max((v + (1 << (r - 1)) + z * (1 << r) + (v >> 31)) >> r, lo), hi)


STEP_SHIFT = FAST_MAX_RIGHT_SHIFT  # a step channel's tx_mr shift; its multiplier is 2^(30 - j)


def step_channel(bias: int, m: int, shift: int, terms: int, z: int, lo: int, hi: int):
    """(bias', multiplier, shift) that give a channel tx_mr's form, or None.

    For a channel outside fast_requant's range (|acc| up to 2^30, a right shift beyond 22: the
    "dead" channels of some trained models) whose TFLM output takes at most two values y0 <= y1
    over every accumulator bias + [-terms, terms], with the step at t: tx_mr with multiplier
    2^(30 - j) and shift -22 has plateaus 2^(23 + j) accumulators wide; the bias moves by delta so
    that the step lands on one of its steps (or, for one value, the range on the middle of its
    plateau; multiplier 0 when that value is the clamped zero point). Both sides are monotone, so
    equal values at the range's ends and on both sides of the step make them equal everywhere;
    that is checked, and |acc + delta| < 2^30.
    """
    if m == 0:
        return bias, 0, -1  # a zero scale: the zero point whatever acc is (SMMULR by 0 ignores 2 * acc's wrap)
    a0, a1 = bias - terms, bias + terms
    y0, y1 = tflm_output(a0, m, shift, z, lo, hi), tflm_output(a1, m, shift, z, lo, hi)
    if m < 0 or not 0 <= y1 - y0 <= 1:
        return None
    if y0 == y1 == min(max(z, lo), hi):
        return bias, 0, -1  # tx_mr with multiplier 0: the zero point
    t = a0  # the smallest acc with output y1
    if y0 != y1:
        t_hi = a1
        while t < t_hi:
            mid = (t + t_hi) // 2
            t, t_hi = (t, mid) if tflm_output(mid, m, shift, z, lo, hi) >= y1 else (mid + 1, t_hi)
    for j in range(8):
        mult, width = 1 << (30 - j), 1 << (STEP_SHIFT + 1 + j)  # accumulators per value of tx_mr
        if y0 == y1:
            delta = (y0 - z) * width - bias
            points = (a0, a1)
        else:
            f, f_hi = (y1 - z) * width - width, (y1 - z) * width  # tx_mr's step to y1, unclamped
            while f < f_hi:
                mid = (f + f_hi) // 2
                f, f_hi = (f, mid) if fast_output(mid, mult, STEP_SHIFT, z, -2**31, 2**31) >= y1 else (mid + 1, f_hi)
            delta = f - t
            points = (a0, t - 1, t, a1)
        if max(abs(a0 + delta), abs(a1 + delta)) >= 2**30:
            continue
        if all(fast_output(a + delta, mult, STEP_SHIFT, z, lo, hi) == tflm_output(a, m, shift, z, lo, hi)
               for a in points):
            return bias + delta, mult, -STEP_SHIFT
    return None


def gemm_fast_requant(mults: np.ndarray, shifts: np.ndarray, bias: np.ndarray, terms: int, z: int, lo: int,
                      hi: int):
    """(multipliers, shifts, bias) for tx_mr on every channel, or None (tx_conv2d_gemm_s8's int8 path).

    Each channel as fast_requant takes it, or else as step_channel rewrites it (its bias too).
    `terms` bounds |acc - bias|; z, lo, hi: output zero point and clamp range.
    """
    m_out, s_out, b_out = [], [], []
    for m, sh, b in zip(np.asarray(mults, dtype=np.int64), np.asarray(shifts, dtype=np.int64),
                        np.asarray(bias, dtype=np.int64)):
        one = fast_requant(np.array([m]), np.array([sh]), np.array([abs(int(b)) + terms]))
        if one is not None:
            m_out.append(int(one[0][0]))
            s_out.append(int(one[1][0]))
            b_out.append(int(b))
            continue
        step = step_channel(int(b), int(m), int(sh), terms, z, lo, hi)
        if step is None:
            return None
        b_out.append(step[0])
        m_out.append(step[1])
        s_out.append(step[2])
    return (np.array(m_out, dtype=np.int32), np.array(s_out, dtype=np.int8), np.array(b_out, dtype=np.int32))


def pixelwise_inplace_offset(in_bytes: int, out_bytes: int) -> int:
    """Where a pixel-by-pixel kernel's input may start inside its output buffer.

    tx_conv2d_gemm_s8 on a pointwise layer reads input pixels p, p+1 (into its
    scratch columns) before it writes output pixels p, p+1. With the input
    d bytes after the output's start, writing output pixel p+1 (ending at
    (p+2)*out_c) never reaches unread input (from d + (p+2)*in_c) when
    d >= pixels * (out_c - in_c), i.e. d = max(0, out_bytes - in_bytes),
    rounded up to the arena's 4-byte alignment.
    """
    return -(-max(0, out_bytes - in_bytes) // 4) * 4
