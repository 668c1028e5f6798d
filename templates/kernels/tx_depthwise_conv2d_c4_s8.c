/* tx_depthwise_conv2d_c4_s8: see tx_depthwise_conv2d_c4_s8.h for the
 * arithmetic, the parameters and the layouts. */
#include "tx_depthwise_conv2d_c4_s8.h"
#include "tx_common.h"

#include <string.h>

/* acc + lo(a) * lo(b) and acc + hi(a) * hi(b) (SMLABB, SMLATT). */
static inline int32_t mla_lo(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlabb(a, b, acc);
#else
    return acc + (int32_t)(int16_t)(uint16_t)a * (int16_t)(uint16_t)b;
#endif
}

static inline int32_t mla_hi(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlatt(a, b, acc);
#else
    return acc + (a >> 16) * (b >> 16);
#endif
}

/* Widen input row iy (of one batch) into a ring slot: row_w columns from column -pad_left,
 * stored [in_c / 4][row_w][2] words. */
static void widen_row(const tx_depthwise_conv2d_c4_s8_params *p, const int8_t *in_b, int32_t iy, int32_t *row)
{
    const int32_t groups = p->in_c / 4;
    const int32_t step = 2 * p->row_w; /* words from one group's column to the next group's */
    for (int32_t c = 0; c < p->row_w; ++c) {
        const int32_t ix = c - p->pad_left;
        int32_t *dst = row + 2 * c;
        if (ix < 0 || ix >= p->in_w) {
            for (int32_t g = 0; g < groups; ++g) { /* padding: (zero point + offset) = 0 */
                dst[g * step] = 0;
                dst[g * step + 1] = 0;
            }
        } else {
            tx_widen4_s8(dst, step, in_b + (iy * p->in_w + ix) * p->in_c, groups, p->input_offset);
        }
    }
}

/* One tap for channels c..c+3: a and w point at the tap's two pair words. */
static inline void tap(const int32_t *a, const int32_t *w, int32_t acc[4])
{
    const int32_t a0 = a[0], a1 = a[1], w0 = w[0], w1 = w[1];
    acc[0] = mla_lo(a0, w0, acc[0]); /* channel c     */
    acc[2] = mla_hi(a0, w0, acc[2]); /* channel c + 2 */
    acc[1] = mla_lo(a1, w1, acc[1]); /* channel c + 1 */
    acc[3] = mla_hi(a1, w1, acc[3]); /* channel c + 3 */
}

/* acc += every tap of the window: rows[ky] + col is its first column in row ky,
 * w the group's tap (0, 0); taps are 2 words apart along a row, in weights too. */
static inline void window_taps(const int32_t *const *rows, int32_t col, const int32_t *w, int32_t k_h,
                               int32_t k_w, int32_t acc[4])
{
    for (int32_t ky = 0; ky < k_h; ++ky) {
        const int32_t *a = rows[ky] + col;
        for (int32_t kx = 0; kx < k_w; ++kx) {
            tap(a, w, acc);
            a += 2;
            w += 2;
        }
    }
}

/* window_taps for 3x3 (a0, a1, a2: the window's first column in each row),
 * written out: every load is at a constant offset. On
 * cores with the DSP extension, 9 taps x (2 LDRD + 4 SMLAxy) in inline asm:
 * 54 instructions for 36 MACs (the compiler spills with C here). */
static inline void window_taps_3x3(const int32_t *a0, const int32_t *a1, const int32_t *a2, const int32_t *w,
                                   int32_t acc[4])
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__) /* -O0 keeps r7 as frame pointer */
    int32_t c0 = acc[0], c1 = acc[1], c2 = acc[2], c3 = acc[3];
    int32_t x0, x1, u0, u1;
    __asm__(
        "ldrd   %[x0], %[x1], [%[r0], #0]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #0]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r0], #8]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #8]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r0], #16]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #16]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r1], #0]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #24]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r1], #8]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #32]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r1], #16]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #40]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r2], #0]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #48]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r2], #8]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #56]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        "ldrd   %[x0], %[x1], [%[r2], #16]\n\t"
        "ldrd   %[u0], %[u1], [%[w], #64]\n\t"
        "smlabb %[c0], %[x0], %[u0], %[c0]\n\t"
        "smlatt %[c2], %[x0], %[u0], %[c2]\n\t"
        "smlabb %[c1], %[x1], %[u1], %[c1]\n\t"
        "smlatt %[c3], %[x1], %[u1], %[c3]\n\t"
        : [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [c3] "+r"(c3), [x0] "=&r"(x0), [x1] "=&r"(x1),
          [u0] "=&r"(u0), [u1] "=&r"(u1)
        : [r0] "r"(a0), [r1] "r"(a1), [r2] "r"(a2), [w] "r"(w)
        : "memory");
    acc[0] = c0;
    acc[1] = c1;
    acc[2] = c2;
    acc[3] = c3;
#else
    tap(a0, w, acc);
    tap(a0 + 2, w + 2, acc);
    tap(a0 + 4, w + 4, acc);
    tap(a1, w + 6, acc);
    tap(a1 + 2, w + 8, acc);
    tap(a1 + 4, w + 10, acc);
    tap(a2, w + 12, acc);
    tap(a2 + 2, w + 14, acc);
    tap(a2 + 4, w + 16, acc);
#endif
}

/* dst[0..3] = the four channels' accumulators requantized with their {m, c, r} records (q: channel 0's). */
static inline void output_mr4(const int32_t acc[4], const int32_t *q, int8_t *dst, int32_t act_min, int32_t act_max)
{
    const int32_t v0 = tx_mr(acc[0], q[0], q[1], q[2]);
    const int32_t v1 = tx_mr(acc[1], q[3], q[4], q[5]);
    const int32_t v2 = tx_mr(acc[2], q[6], q[7], q[8]);
    const int32_t v3 = tx_mr(acc[3], q[9], q[10], q[11]);
#if defined(__ARM_FEATURE_DSP)
    if (act_min == -128 && act_max == 127) { /* no activation to apply: one SSAT each */
        dst[0] = (int8_t)tx_ssat8(v0);
        dst[1] = (int8_t)tx_ssat8(v1);
        dst[2] = (int8_t)tx_ssat8(v2);
        dst[3] = (int8_t)tx_ssat8(v3);
        return;
    }
#endif
    dst[0] = (int8_t)tx_clamp(v0, act_min, act_max);
    dst[1] = (int8_t)tx_clamp(v1, act_min, act_max);
    dst[2] = (int8_t)tx_clamp(v2, act_min, act_max);
    dst[3] = (int8_t)tx_clamp(v3, act_min, act_max);
}

/* The kernel for windows that do not overlap (stride >= kernel in both directions): group by
 * group, each tap's 4 input channels are loaded as one word and widened in registers (SXTB16,
 * plus the input offset), with no ring of widened rows. wide: the w8 path's scratch for one
 * group's widened taps (NULL: int16 weights); records as in the caller. */
/* One tap for 4 channels read as one word at src: widened (SXTB16, plus the input offset) in
 * registers; w: the tap's two pair words. */
static inline void tap_word(const int8_t *src, int32_t offsets, const int32_t *w, int32_t acc[4])
{
    uint32_t v;
    memcpy(&v, src, 4);
    const int32_t a[2] = {tx_sadd16(tx_sxtb16_even((int32_t)v), offsets),
                          tx_sadd16(tx_sxtb16_odd((int32_t)v), offsets)};
    tap(a, w, acc);
}

static void direct(const tx_depthwise_conv2d_c4_s8_params *p, const int8_t *in, int8_t *out, int32_t *wide,
                   const int32_t *requant, int32_t fast)
{
    /* Locals for everything the loops read: the int8 stores may alias *p. */
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t k_h = p->k_h, k_w = p->k_w, taps = k_h * k_w, batches = p->batches;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t offsets = tx_pair(p->input_offset, p->input_offset);
    const int32_t is_2x2 = k_h == 2 && k_w == 2, row_bytes = in_w * in_c;
    for (int32_t g = 0; g < in_c / 4; ++g) {
        const int32_t c = 4 * g;
        const int32_t *w = p->weights + g * taps * 2;
        if (wide) { /* int8 weights: the group's taps widened once per call */
            const int32_t *packed = p->weights + g * taps;
            for (int32_t t = 0; t < taps; ++t) {
                wide[2 * t] = tx_sxtb16_even(packed[t]);
                wide[2 * t + 1] = tx_sxtb16_odd(packed[t]);
            }
            w = wide;
        }
        const int32_t b0 = p->bias[c], b1 = p->bias[c + 1], b2 = p->bias[c + 2], b3 = p->bias[c + 3];
        const int32_t *const q = requant + (fast ? TX_MR_WORDS : TX_RECORD_WORDS) * c;
        for (int32_t b = 0; b < batches; ++b) {
            const int8_t *in_b = in + b * in_h * in_w * in_c + c;
            int8_t *dst = out + b * out_h * out_w * in_c + c;
            for (int32_t y = 0; y < out_h; ++y) {
                const int32_t iy0 = y * stride_h - pad_top;
                for (int32_t x = 0; x < out_w; ++x) {
                    const int32_t ix0 = x * stride_w - pad_left;
                    int32_t acc[4] = {b0, b1, b2, b3};
                    if (is_2x2 && iy0 >= 0 && iy0 + 2 <= in_h && ix0 >= 0 && ix0 + 2 <= in_w) {
                        const int8_t *src = in_b + (iy0 * in_w + ix0) * in_c;
                        tap_word(src, offsets, w, acc);
                        tap_word(src + in_c, offsets, w + 2, acc);
                        tap_word(src + row_bytes, offsets, w + 4, acc);
                        tap_word(src + row_bytes + in_c, offsets, w + 6, acc);
                    } else {
                        const int32_t *wt = w;
                        for (int32_t iy = iy0; iy < iy0 + k_h; ++iy) {
                            for (int32_t ix = ix0; ix < ix0 + k_w; ++ix, wt += 2) {
                                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) { /* else padding: skipped */
                                    tap_word(in_b + (iy * in_w + ix) * in_c, offsets, wt, acc);
                                }
                            }
                        }
                    }
                    if (fast) {
                        output_mr4(acc, q, dst, act_min, act_max);
                    } else {
                        for (int32_t i = 0; i < 4; ++i) {
                            dst[i] = tx_output_rs(acc[i], q + TX_RECORD_WORDS * i, output_offset, act_min, act_max);
                        }
                    }
                    dst += in_c;
                }
            }
        }
    }
}

void tx_depthwise_conv2d_c4_s8(const tx_depthwise_conv2d_c4_s8_params *p, const int8_t *in, int8_t *out,
                               int8_t *scratch)
{
    /* Locals, not p->...: int8 stores may alias *p, locals cannot be. */
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t groups = p->in_c / 4;
    const int32_t row_words = 2 * p->row_w * groups; /* pair words per widened row */
    const int32_t taps = p->k_h * p->k_w;
    int32_t *held = (int32_t *)(void *)scratch; /* input row in each ring slot, -1: none */
    int32_t *zero_row = held + p->k_h;          /* stands for padding rows */
    int32_t *ring = zero_row + row_words;
    const int32_t is_3x3 = p->k_h == 3 && p->k_w == 3;
    /* w8 (optimize=size): every channel's record derived once per call, and each group's
     * taps widened per output row, into scratch after the ring. */
    int32_t *wide = ring + p->k_h * row_words; /* [taps][2] pair words */
    int32_t *records = wide + 2 * taps;         /* [in_c][TX_RECORD_WORDS] */
    const int32_t w8 = TX_W8(p);
    const int32_t fast = w8 && p->rq_fast; /* {m, c, r} records, tx_mr */
    if (w8) {
        for (int32_t c = 0; c < p->in_c; ++c) {
            if (fast) {
                tx_mr_record(p->mult[c], p->shift[c], output_offset, records + TX_MR_WORDS * c);
            } else {
                tx_record_from(p->mult[c], p->shift[c], records + TX_RECORD_WORDS * c);
            }
        }
    }
    const int32_t *const requant = w8 ? records : p->requant;

    if (p->stride_h >= p->k_h && p->stride_w >= p->k_w) {
        /* Windows that do not overlap (a 2x2 stride-2 exit head): every input value is read at
         * most once, so widening rows into the ring would only add work. */
        direct(p, in, out, w8 ? wide : NULL, requant, fast);
        return;
    }
    memset(zero_row, 0, (size_t)row_words * 4);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + b * p->in_h * p->in_w * p->in_c;
        for (int32_t k = 0; k < p->k_h; ++k) {
            held[k] = -1;
        }
        for (int32_t y = 0; y < p->out_h; ++y) {
            /* The rows of this output row's window, widened once each: consecutive
             * rows land in distinct slots (row % k_h). */
            const int32_t *rows[8];
            const int32_t iy0 = y * p->stride_h - p->pad_top;
            for (int32_t ky = 0; ky < p->k_h; ++ky) {
                const int32_t iy = iy0 + ky;
                rows[ky] = zero_row;
                if (iy >= 0 && iy < p->in_h) {
                    const int32_t slot = iy % p->k_h;
                    int32_t *row = ring + slot * row_words;
                    if (held[slot] != iy) {
                        widen_row(p, in_b, iy, row);
                        held[slot] = iy;
                    }
                    rows[ky] = row;
                }
            }
            int8_t *dst_row = out + ((b * p->out_h + y) * p->out_w) * p->in_c;
            for (int32_t g = 0; g < groups; ++g) {
                const int32_t c = 4 * g;
                const int32_t *w = w8 ? wide : p->weights + g * taps * 2;
                if (w8) { /* the group's taps, widened into scratch */
                    const int32_t *packed = p->weights + g * taps; /* one word of 4 int8 per tap */
                    for (int32_t t = 0; t < taps; ++t) {
                        wide[2 * t] = tx_sxtb16_even(packed[t]);
                        wide[2 * t + 1] = tx_sxtb16_odd(packed[t]);
                    }
                }
                const int32_t *grows[8]; /* this group's part of each row */
                for (int32_t ky = 0; ky < p->k_h; ++ky) {
                    grows[ky] = rows[ky] + g * 2 * p->row_w;
                }
                int8_t *dst = dst_row + c;
                if (is_3x3 && fast) {
                    /* As below, with the {m, c, r} records: three loads and 6 instructions per output. */
                    const int32_t *a0 = grows[0], *a1 = grows[1], *a2 = grows[2];
                    const int32_t *q = requant + TX_MR_WORDS * c;
                    const int32_t b0 = p->bias[c], b1 = p->bias[c + 1], b2 = p->bias[c + 2], b3 = p->bias[c + 3];
                    const int32_t step = 2 * p->stride_w, out_step = p->in_c, out_w = p->out_w;
                    for (int32_t x = 0; x < out_w; ++x) {
                        int32_t acc[4] = {b0, b1, b2, b3};
                        window_taps_3x3(a0, a1, a2, w, acc);
                        output_mr4(acc, q, dst, act_min, act_max);
                        a0 += step;
                        a1 += step;
                        a2 += step;
                        dst += out_step;
                    }
                    continue;
                }
                if (is_3x3) {
                    /* Locals for everything the loop reads: the int8 stores may alias *p. */
                    const int32_t *a0 = grows[0], *a1 = grows[1], *a2 = grows[2];
                    const int32_t *q = requant + TX_RECORD_WORDS * c;
                    const int32_t b0 = p->bias[c], b1 = p->bias[c + 1], b2 = p->bias[c + 2], b3 = p->bias[c + 3];
                    const int32_t step = 2 * p->stride_w, out_step = p->in_c, out_w = p->out_w;
                    for (int32_t x = 0; x < out_w; ++x) {
                        int32_t acc[4] = {b0, b1, b2, b3};
                        window_taps_3x3(a0, a1, a2, w, acc);
                        dst[0] = tx_output_rs(acc[0], q, output_offset, act_min, act_max);
                        dst[1] = tx_output_rs(acc[1], q + TX_RECORD_WORDS, output_offset, act_min, act_max);
                        dst[2] = tx_output_rs(acc[2], q + 2 * TX_RECORD_WORDS, output_offset, act_min, act_max);
                        dst[3] = tx_output_rs(acc[3], q + 3 * TX_RECORD_WORDS, output_offset, act_min, act_max);
                        a0 += step;
                        a1 += step;
                        a2 += step;
                        dst += out_step;
                    }
                    continue;
                }
                for (int32_t x = 0; x < p->out_w; ++x) {
                    const int32_t col = 2 * x * p->stride_w;
                    /* Why no accumulator overflows: each product is at most 255 * 128;
                     * depthwise_conv2d.py refuses layers where |bias| + k_h*k_w * 32640
                     * could exceed INT32_MAX. */
                    int32_t acc[4] = {p->bias[c], p->bias[c + 1], p->bias[c + 2], p->bias[c + 3]};
                    window_taps(grows, col, w, p->k_h, p->k_w, acc);
                    if (fast) {
                        output_mr4(acc, requant + TX_MR_WORDS * c, dst, act_min, act_max);
                        dst += p->in_c;
                        continue;
                    }
                    dst[0] = tx_output_rs(acc[0], requant + TX_RECORD_WORDS * c, output_offset, act_min, act_max);
                    dst[1] = tx_output_rs(acc[1], requant + TX_RECORD_WORDS * (c + 1), output_offset, act_min, act_max);
                    dst[2] = tx_output_rs(acc[2], requant + TX_RECORD_WORDS * (c + 2), output_offset, act_min, act_max);
                    dst[3] = tx_output_rs(acc[3], requant + TX_RECORD_WORDS * (c + 3), output_offset, act_min, act_max);
                    dst += p->in_c;
                }
            }
        }
    }
}
