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
