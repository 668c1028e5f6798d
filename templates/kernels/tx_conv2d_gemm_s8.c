/* tx_conv2d_gemm_s8: see tx_conv2d_gemm_s8.h for the arithmetic and the parameters.
 *
 * Memory layouts (pair words, see tx_common.h):
 * - scratch holds two columns interleaved: for each group g of 4 column
 *   elements, [pixel 0 word 2g, pixel 0 word 2g+1, pixel 1 word 2g, pixel 1 word 2g+1];
 * - weights hold two output channels interleaved the same way:
 *   [channel 2c word 2g, word 2g+1, channel 2c+1 word 2g, word 2g+1] (an odd
 *   out_c gets a zero last channel).
 * So the inner loop walks two pointers: each step reads 4 activation words
 * and 4 weight words and does 8 SMLADs (16 MACs).
 */
#include "tx_conv2d_gemm_s8.h"
#include "tx_common.h"

#include <string.h>

#define WORDS_PER_GROUP 4 /* words between one group of 4 elements and the next */

/* Fill `groups` groups of one column (padding taps and the tail), `step` words apart, with `word`
 * (two pair words each). */
static void fill_groups(int32_t *dst, int32_t groups, int32_t step, int32_t word)
{
    for (int32_t g = 0; g < groups; ++g) {
        dst[0] = word;
        dst[1] = word;
        dst += step;
    }
}

/* dst[0..n) = src[0..n): whole words while they last (memcpy of 4 bytes: one unaligned LDR / STR
 * on cores that allow it, bytes elsewhere), then bytes. Taps here are a few bytes long, too short
 * for a call to memcpy to pay. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        memcpy(dst, &v, 4);
        src += 4;
        dst += 4;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

/* dst[0..n) = the byte in every byte of `splat`, the same way (written so that the compiler does
 * not turn it back into a call to memset). */
static inline void fill_bytes(int8_t *dst, uint32_t splat, int32_t n)
{
    for (; n >= 4; n -= 4) {
        memcpy(dst, &splat, 4);
        dst += 4;
    }
    if (n > 0) {
        dst[0] = (int8_t)splat;
    }
    if (n > 1) {
        dst[1] = (int8_t)splat;
    }
    if (n > 2) {
        dst[2] = (int8_t)splat;
    }
}

/* tx_widen4_s8 into a column; with three columns interleaved (step 6 words: the w8 kernel, whose
 * columns hold the raw values, offset 0) on DSP cores two groups per pass of a loop of 9
 * instructions (one LDRD of two input words, whose address is a word boundary: in_c % 4 == 0 or the
 * gather row; the stores step their pointer: STRD post-indexed), after one group on its own when
 * `groups` is odd. */
static inline void widen_groups(int32_t *dst, int32_t step, const int8_t *src, int32_t groups, int32_t offset)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(TX_WEIGHTS_INT16_ONLY)
    if (step == 6) {
        int32_t v0, v1, lo, hi;
        (void)offset; /* 0: w8 columns hold the raw values */
        if (groups & 1) {
            __asm__ volatile("ldr    %[v0], [%[src]], #4\n\t"
                             "sxtb16 %[lo], %[v0]\n\t"
                             "sxtb16 %[hi], %[v0], ror #8\n\t"
                             "strd   %[lo], %[hi], [%[dst]], #24\n\t"
                             : [src] "+r"(src), [dst] "+r"(dst), [v0] "=&r"(v0), [lo] "=&r"(lo), [hi] "=&r"(hi)
                             :
                             : "memory");
        }
        int32_t pairs = groups >> 1;
        if (pairs <= 0) {
            return;
        }
        __asm__ volatile("1:\n\t"
                         "ldrd   %[v0], %[v1], [%[src]], #8\n\t"
                         "sxtb16 %[lo], %[v0]\n\t"
                         "sxtb16 %[hi], %[v0], ror #8\n\t"
                         "strd   %[lo], %[hi], [%[dst]], #24\n\t"
                         "sxtb16 %[lo], %[v1]\n\t"
                         "sxtb16 %[hi], %[v1], ror #8\n\t"
                         "strd   %[lo], %[hi], [%[dst]], #24\n\t"
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b\n\t"
                         : [src] "+r"(src), [dst] "+r"(dst), [n] "+r"(pairs), [v0] "=&r"(v0), [v1] "=&r"(v1),
                           [lo] "=&r"(lo), [hi] "=&r"(hi)
                         :
                         : "cc", "memory");
        return;
    }
#endif
    tx_widen4_s8(dst, step, src, groups, offset);
}

/* The values build_column reads, copied out of the params: passed by value, they are
 * locals of build_column, which its int32/int8 stores to the columns cannot alias
 * (stores through int32_t * may alias the int32_t fields of *p, forcing reloads). */
typedef struct {
    int32_t in_h, in_w, in_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t groups;
    int32_t input_offset; /* added to each value as it is widened: 0 with w8 (raw values) */
    int32_t zero_point;   /* the input zero point: the padding byte of the gather row */
    int32_t pad_word;     /* a padding tap's pair words: 0 (zero point + offset), or the zero point twice (w8) */
    int32_t step; /* words from one group of a column to the next: 2 per column interleaved */
} column_geometry;

/* Build the column of output pixel (y, x) of one batch; col points at its first word. */
static void build_column(const column_geometry g, const int8_t *in_b, int32_t y, int32_t x, int32_t *col,
                         int8_t *gather)
{
    const int32_t iy0 = y * g.stride_h - g.pad_top;
    const int32_t ix0 = x * g.stride_w - g.pad_left;
    if (g.in_c % 4 == 0 && g.dil_w == 1 && g.dil_h == 1 && iy0 >= 0 && ix0 >= 0 && iy0 + g.k_h <= g.in_h &&
        ix0 + g.k_w <= g.in_w) {
        /* The usual case: the window is inside the input, k_h rows of k_w * in_c contiguous bytes. */
        const int32_t row_groups = g.k_w * g.in_c / 4, row_bytes = g.in_w * g.in_c;
        const int8_t *src = in_b + (iy0 * g.in_w + ix0) * g.in_c;
        int32_t *dst = col;
        for (int32_t ky = 0; ky < g.k_h; ++ky) {
            widen_groups(dst, g.step, src, row_groups, g.input_offset);
            dst += row_groups * g.step;
            src += row_bytes;
        }
        fill_groups(dst, g.groups - g.k_h * row_groups, g.step, 0);
    } else if (g.in_c % 4 == 0) {
        /* Every tap is whole groups of 4: widen straight from the input. */
        const int32_t tap_groups = g.in_c / 4;
        int32_t *dst = col;
        for (int32_t ky = 0; ky < g.k_h; ++ky) {
            const int32_t iy = iy0 + ky * g.dil_h;
            for (int32_t kx = 0; kx < g.k_w; ++kx) {
                const int32_t ix = ix0 + kx * g.dil_w;
                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
                    fill_groups(dst, tap_groups, g.step, g.pad_word); /* padding: the zero point */
                } else {
                    widen_groups(dst, g.step, in_b + (iy * g.in_w + ix) * g.in_c, tap_groups,
                                 g.input_offset);
                }
                dst += tap_groups * g.step;
            }
        }
        fill_groups(dst, g.groups - g.k_h * g.k_w * tap_groups, g.step, 0);
    } else {
        /* Gather the raw bytes (padding = the zero point, which widens to 0), then widen. */
        const uint32_t zero_points = 0x01010101u * (uint8_t)g.zero_point; /* the zero point, 4 times */
        int8_t *dst = gather;
        const int32_t row_inside = g.dil_w == 1 && ix0 >= 0 && ix0 + g.k_w <= g.in_w;
        const int32_t row_bytes = g.k_w * g.in_c;
        for (int32_t ky = 0; ky < g.k_h; ++ky) {
            const int32_t iy = iy0 + ky * g.dil_h;
            if (row_inside && iy >= 0 && iy < g.in_h) { /* the kernel row's bytes are contiguous */
                copy_bytes(dst, in_b + (iy * g.in_w + ix0) * g.in_c, row_bytes);
                dst += row_bytes;
                continue;
            }
            for (int32_t kx = 0; kx < g.k_w; ++kx) {
                const int32_t ix = ix0 + kx * g.dil_w;
                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
                    fill_bytes(dst, zero_points, g.in_c);
                } else {
                    copy_bytes(dst, in_b + (iy * g.in_w + ix) * g.in_c, g.in_c);
                }
                dst += g.in_c;
            }
        }
        fill_bytes(dst, zero_points, (int32_t)(gather + 4 * g.groups - dst)); /* the tail: < 8 bytes */
        widen_groups(col, g.step, gather, g.groups, g.input_offset);
    }
}

/* acc[ch][px] += column px . weight row ch over `groups` groups (an even number). */
static inline void dot_2x2(const int32_t *a, const int32_t *w, int32_t groups, int32_t acc[4])
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    /* GROUP: one group of 4 elements, both pixels, both channels: 4 LDRD and 8 SMLAD
     * for 16 MACs. Groups come in twos; a pass of the loop does four (one leading
     * pair when groups % 4 == 2), so the loop's compare and branch cost 2 per 64 MACs. */
#define TX_GEMM_GROUP \
        "ldrd   %[x0], %[x1], [%[a]], #16\n\t" \
        "ldrd   %[y0], %[y1], [%[a], #-8]\n\t" \
        "ldrd   %[u0], %[u1], [%[w]], #16\n\t" \
        "smlad  %[c00], %[x0], %[u0], %[c00]\n\t" \
        "smlad  %[c00], %[x1], %[u1], %[c00]\n\t" \
        "smlad  %[c01], %[y0], %[u0], %[c01]\n\t" \
        "smlad  %[c01], %[y1], %[u1], %[c01]\n\t" \
        "ldrd   %[u0], %[u1], [%[w], #-8]\n\t" \
        "smlad  %[c10], %[x0], %[u0], %[c10]\n\t" \
        "smlad  %[c10], %[x1], %[u1], %[c10]\n\t" \
        "smlad  %[c11], %[y0], %[u0], %[c11]\n\t" \
        "smlad  %[c11], %[y1], %[u1], %[c11]\n\t" \

    int32_t c00 = acc[0], c01 = acc[1], c10 = acc[2], c11 = acc[3];
    int32_t x0, x1, y0, y1, u0, u1;
    const int32_t *end = a + groups * WORDS_PER_GROUP;
    if (groups % 4 == 2) {
        __asm__(TX_GEMM_GROUP TX_GEMM_GROUP
                : [a] "+r"(a), [w] "+r"(w), [c00] "+r"(c00), [c01] "+r"(c01), [c10] "+r"(c10), [c11] "+r"(c11),
                  [x0] "=&r"(x0), [x1] "=&r"(x1), [y0] "=&r"(y0), [y1] "=&r"(y1), [u0] "=&r"(u0), [u1] "=&r"(u1)
                :
                : "memory");
    }
    if (a != end) {
        __asm__("1:\n\t" TX_GEMM_GROUP TX_GEMM_GROUP TX_GEMM_GROUP TX_GEMM_GROUP
                "cmp    %[a], %[end]\n\t"
                "bne    1b\n\t"
                : [a] "+r"(a), [w] "+r"(w), [c00] "+r"(c00), [c01] "+r"(c01), [c10] "+r"(c10), [c11] "+r"(c11),
                  [x0] "=&r"(x0), [x1] "=&r"(x1), [y0] "=&r"(y0), [y1] "=&r"(y1), [u0] "=&r"(u0), [u1] "=&r"(u1)
                : [end] "r"(end)
                : "cc", "memory");
    }
#undef TX_GEMM_GROUP
    acc[0] = c00;
    acc[1] = c01;
    acc[2] = c10;
    acc[3] = c11;
#else
    for (int32_t g = 0; g < groups; ++g) {
        acc[0] = tx_smlad(a[1], w[1], tx_smlad(a[0], w[0], acc[0]));
        acc[1] = tx_smlad(a[3], w[1], tx_smlad(a[2], w[0], acc[1]));
        acc[2] = tx_smlad(a[1], w[3], tx_smlad(a[0], w[2], acc[2]));
        acc[3] = tx_smlad(a[3], w[3], tx_smlad(a[2], w[2], acc[3]));
        a += WORDS_PER_GROUP;
        w += WORDS_PER_GROUP;
    }
#endif
}

/* w8 (int8 weights): three columns interleaved per group, [pixel 0 words 2g, 2g+1, pixel 1 ...,
 * pixel 2 ...], and one weight word per channel and group, [channel 2c, channel 2c+1]. */
#define W8_WORDS_PER_GROUP 6

/* The six sums of one 3 x 2 block (pixel px, channel ch: c<ch><px>), in registers. */
typedef struct {
    int32_t c00, c01, c02, c10, c11, c12;
} block_3x2;

/* One group of 4 column elements, both channels, three pixels (dot_3x2_w8). */
#define TX_GEMM_GROUP_3X2 \
    "ldrd   %[u0], %[u1], [%[w]], #8\n\t" \
    "ldrd   %[x0], %[x1], [%[a]], #24\n\t" \
    "sxtb16 %[e0], %[u0]\n\t" \
    "sxtb16 %[u0], %[u0], ror #8\n\t" \
    "sxtb16 %[e1], %[u1]\n\t" \
    "sxtb16 %[u1], %[u1], ror #8\n\t" \
    "smlad  %[c00], %[x0], %[e0], %[c00]\n\t" \
    "smlad  %[c00], %[x1], %[u0], %[c00]\n\t" \
    "smlad  %[c10], %[x0], %[e1], %[c10]\n\t" \
    "smlad  %[c10], %[x1], %[u1], %[c10]\n\t" \
    "ldrd   %[x0], %[x1], [%[a], #-16]\n\t" \
    "smlad  %[c01], %[x0], %[e0], %[c01]\n\t" \
    "smlad  %[c01], %[x1], %[u0], %[c01]\n\t" \
    "smlad  %[c11], %[x0], %[e1], %[c11]\n\t" \
    "smlad  %[c11], %[x1], %[u1], %[c11]\n\t" \
    "ldrd   %[x0], %[x1], [%[a], #-8]\n\t" \
    "smlad  %[c02], %[x0], %[e0], %[c02]\n\t" \
    "smlad  %[c02], %[x1], %[u0], %[c02]\n\t" \
    "smlad  %[c12], %[x0], %[e1], %[c12]\n\t" \
    "smlad  %[c12], %[x1], %[u1], %[c12]\n\t" \


/* s += column px . weight row ch over `groups` groups (an even number), int8 weights: each weight
 * word is widened once (SXTB16, SXTB16 ROR #8) and used for three pixels. */
static inline block_3x2 dot_3x2_w8(const int32_t *a, const int32_t *w, int32_t groups, block_3x2 s)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
    /* GROUP: 1 LDRD of two weight words, 4 SXTB16, 3 LDRD of activations, 12 SMLAD: 20
     * instructions for 24 MACs. 14 registers (6 sums, 4 widened weights, 2 activation words,
     * 2 pointers), so the loop's end is read from memory: 3 instructions per pass of 2 groups
     * (48 MACs: the blocks pairs_wide leaves, so the shorter code). Without optimisation r7 is
     * the frame pointer and 13 registers are left: the C loop below. */
    int32_t c00 = s.c00, c01 = s.c01, c02 = s.c02, c10 = s.c10, c11 = s.c11, c12 = s.c12;
    int32_t x0, x1, u0, u1, e0, e1;
    const int32_t *const end = a + groups * W8_WORDS_PER_GROUP;
    __asm__("1:\n\t" TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2
            "ldr    %[x0], %[end]\n\t"
            "cmp    %[a], %[x0]\n\t"
            "bne    1b\n\t"
            : [a] "+r"(a), [w] "+r"(w), [c00] "+r"(c00), [c01] "+r"(c01), [c02] "+r"(c02), [c10] "+r"(c10),
              [c11] "+r"(c11), [c12] "+r"(c12), [x0] "=&r"(x0), [x1] "=&r"(x1), [u0] "=&r"(u0),
              [u1] "=&r"(u1), [e0] "=&r"(e0), [e1] "=&r"(e1)
            : [end] "m"(end)
            : "cc", "memory");
    s = (block_3x2){c00, c01, c02, c10, c11, c12};
#else
    for (int32_t g = 0; g < groups; ++g) {
        const int32_t e0 = tx_sxtb16_even(w[0]), o0 = tx_sxtb16_odd(w[0]);
        const int32_t e1 = tx_sxtb16_even(w[1]), o1 = tx_sxtb16_odd(w[1]);
        s.c00 = tx_smlad(a[1], o0, tx_smlad(a[0], e0, s.c00));
        s.c01 = tx_smlad(a[3], o0, tx_smlad(a[2], e0, s.c01));
        s.c02 = tx_smlad(a[5], o0, tx_smlad(a[4], e0, s.c02));
        s.c10 = tx_smlad(a[1], o1, tx_smlad(a[0], e1, s.c10));
        s.c11 = tx_smlad(a[3], o1, tx_smlad(a[2], e1, s.c11));
        s.c12 = tx_smlad(a[5], o1, tx_smlad(a[4], e1, s.c12));
        a += W8_WORDS_PER_GROUP;
        w += 2;
    }
#endif
    return s;
}

/* The output of sum `acc` of a channel with {m, c, r} record q, clamped: all of int8 (wide) or
 * [act_min, act_max]. */
static inline int8_t out_mr(int32_t acc, const int32_t *q, int32_t wide, int32_t act_min, int32_t act_max)
{
    const int32_t v = tx_mr(acc, q[0], q[1], q[2]);
    return (int8_t)(wide ? tx_ssat8(v) : tx_clamp(v, act_min, act_max));
}

/* The six outputs of a full block (three pixels, two channels) with {m, c, r} records q (two
 * channels'), to d[0], d[1], d[stride], d[stride + 1], d[2 * stride], d[2 * stride + 1]. */
static inline void output_block_mr(block_3x2 s, const int32_t *q, int8_t *d, int32_t stride, int32_t wide,
                                   int32_t act_min, int32_t act_max)
{
    const int8_t o00 = out_mr(s.c00, q, wide, act_min, act_max), o10 = out_mr(s.c10, q + 3, wide, act_min, act_max);
    const int8_t o01 = out_mr(s.c01, q, wide, act_min, act_max), o11 = out_mr(s.c11, q + 3, wide, act_min, act_max);
    const int8_t o02 = out_mr(s.c02, q, wide, act_min, act_max), o12 = out_mr(s.c12, q + 3, wide, act_min, act_max);
    d[0] = o00;
    d[1] = o10;
    d[stride] = o01;
    d[stride + 1] = o11;
    d[2 * stride] = o02;
    d[2 * stride + 1] = o12;
}

/* `pairs` whole blocks (channel pairs) of the three columns at cols, each with {m, c, r} records
 * and no activation to apply: dot_3x2_w8 and output_block_wide in one loop over channel pairs
 * (weights, bias, records and outputs stepping along), the sums never leaving registers. */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
/* OUT(c, addr): the requantized sum c (tx_mr, record in x0, x1, u0; u1 scratch), saturated, to addr. */
#define TX_GEMM_OUT(c, addr) \
    "lsl    %[u1], %[" c "], #1\n\t" \
    "smmulr %[u1], %[u1], %[x0]\n\t" \
    "add    %[" c "], %[u1], %[x1]\n\t" \
    "add    %[" c "], %[" c "], %[u1], asr #31\n\t" \
    "asr    %[" c "], %[" c "], %[u0]\n\t" \
    "ssat   %[" c "], #8, %[" c "]\n\t" \
    "strb   %[" c "], " addr "\n\t"
/* A pair's start: the sums from the bias, a at the columns. */
#define TX_GEMM_PAIR_HEAD \
    "0:\n\t" \
    "ldr    %[x0], %[bias]\n\t" \
    "ldrd   %[c00], %[c10], [%[x0]], #8\n\t" \
    "str    %[x0], %[bias]\n\t" \
    "mov    %[c01], %[c00]\n\t" \
    "mov    %[c02], %[c00]\n\t" \
    "mov    %[c11], %[c10]\n\t" \
    "mov    %[c12], %[c10]\n\t" \
    "ldr    %[a], %[cols]\n\t"
/* The end of a pass of four groups (label 1): 14 registers are in use, so `end` is read from memory. */
#define TX_GEMM_PAIR_PASS_END \
    "ldr    %[x0], %[end]\n\t" \
    "cmp    %[a], %[x0]\n\t" \
    "bne    1b\n\t"
/* A pair's end, in the freed registers (record x0 x1 u0, scratch u1, q in e0, d in e1, stride in a):
 * the six outputs. The records are read with post-indexing and the first output of each channel is
 * stored with pre-indexing (e1 holds d - 1, then d, then d + 1: the next pair's d - 1), so no pointer
 * needs an ADD; the pair loop ends when e1 reaches `last` (no counter to load, decrement and store). */
#define TX_GEMM_PAIR_TAIL \
    "ldr    %[e0], %[q]\n\t" \
    "ldr    %[e1], %[d]\n\t" \
    "ldr    %[a], %[stride]\n\t" \
    "ldrd   %[x0], %[x1], [%[e0]], #8\n\t" \
    "ldr    %[u0], [%[e0]], #4\n\t" \
    TX_GEMM_OUT("c00", "[%[e1], #1]!") \
    TX_GEMM_OUT("c01", "[%[e1], %[a]]") \
    TX_GEMM_OUT("c02", "[%[e1], %[a], lsl #1]") \
    "ldrd   %[x0], %[x1], [%[e0]], #8\n\t" \
    "ldr    %[u0], [%[e0]], #4\n\t" \
    "str    %[e0], %[q]\n\t" \
    TX_GEMM_OUT("c10", "[%[e1], #1]!") \
    TX_GEMM_OUT("c11", "[%[e1], %[a]]") \
    TX_GEMM_OUT("c12", "[%[e1], %[a], lsl #1]") \
    "str    %[e1], %[d]\n\t" \
    "ldr    %[x0], %[last]\n\t" \
    "cmp    %[e1], %[x0]\n\t" \
    "bne    0b\n\t"
#define TX_GEMM_PAIR_OPERANDS \
    : [a] "=&r"(a), [w] "+r"(w), [c00] "=&r"(c00), [c01] "=&r"(c01), [c02] "=&r"(c02), [c10] "=&r"(c10), \
      [c11] "=&r"(c11), [c12] "=&r"(c12), [x0] "=&r"(x0), [x1] "=&r"(x1), [u0] "=&r"(u0), [u1] "=&r"(u1), \
      [e0] "=&r"(e0), [e1] "=&r"(e1), [bias] "+m"(bias), [q] "+m"(q), [d] "+m"(dm1) \
    : [cols] "m"(cols), [end] "m"(end), [stride] "m"(stride), [last] "m"(last) \
    : "cc", "memory"
#endif

static void pairs_wide(const int32_t *cols, int32_t groups, const int32_t *w, const int32_t *bias,
                       const int32_t *q, int8_t *d, int32_t stride, int32_t pairs)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
    const int32_t *const end = cols + groups * W8_WORDS_PER_GROUP;
    /* Output addresses as integers: the loop keeps d - 1, which may lie before the output array. */
    uintptr_t dm1 = (uintptr_t)d - 1u;
    const uintptr_t last = (uintptr_t)d + (uintptr_t)(2 * pairs) - 1u; /* dm1 after the last pair */
    int32_t c00, c01, c02, c10, c11, c12, x0, x1, u0, u1, e0, e1;
    const int32_t *a;
    /* Per pair: the sums from the bias, the dot product (as dot_3x2_w8), the six outputs. Passes of
     * four groups; when groups % 4 == 2 the first pass starts at its third group, and two groups
     * (8-channel pointwise layers) take no pass loop at all: copies of the loop, so that the choice is
     * made once per call, not once per pair, each only in libraries with such a layer
     * (codegen/emitter.py gemm_odd, gemm_g2). */
#if !defined(TX_CONV2D_GEMM_NO_G2)
    if (groups == 2) {
        __asm__ volatile(TX_GEMM_PAIR_HEAD TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2 TX_GEMM_PAIR_TAIL
                         TX_GEMM_PAIR_OPERANDS);
        return;
    }
#endif
#if !defined(TX_CONV2D_GEMM_NO_ODD)
    if (groups % 4 != 0) {
        __asm__ volatile(TX_GEMM_PAIR_HEAD "b      2f\n\t"
                         "1:\n\t" TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2
                         "2:\n\t" TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2 TX_GEMM_PAIR_PASS_END TX_GEMM_PAIR_TAIL
                         TX_GEMM_PAIR_OPERANDS);
        return;
    }
#endif
    __asm__ volatile(TX_GEMM_PAIR_HEAD "1:\n\t" TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2 TX_GEMM_GROUP_3X2
                     TX_GEMM_GROUP_3X2 TX_GEMM_PAIR_PASS_END TX_GEMM_PAIR_TAIL TX_GEMM_PAIR_OPERANDS);
#else
    for (int32_t k = 0; k < pairs; ++k) {
        const block_3x2 s = dot_3x2_w8(cols, w, groups, (block_3x2){bias[0], bias[0], bias[0], bias[1], bias[1],
                                                                     bias[1]});
        output_block_mr(s, q, d, stride, 1, -128, 127);
        w += 2 * groups;
        bias += 2;
        q += 2 * TX_MR_WORDS;
        d += 2;
    }
#endif
}

/* Output (pixel i, channel oc + j) of a block, any record kind (the partial blocks' path). */
static inline int8_t output_one(block_3x2 s, int32_t i, int32_t j, const int32_t *q, int32_t fast,
                                int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32_t sums[6] = {s.c00, s.c01, s.c02, s.c10, s.c11, s.c12};
    const int32_t acc = sums[3 * j + i];
    return fast ? (int8_t)tx_clamp(tx_mr(acc, q[0], q[1], q[2]), act_min, act_max)
                : tx_output_rs(acc, q, output_offset, act_min, act_max);
}

/* The w8 kernel: three output pixels x two output channels per block (see dot_3x2_w8); the
 * records are derived from mult/shift once per call into scratch, after the columns and the
 * gather row. One loop over channel pairs serves every block: a full block with {m, c, r}
 * records takes output_block_mr, the others (fewer than three pixels, an odd last channel, the
 * 64-bit records) output_one per output. */
static void conv_w8(const tx_conv2d_gemm_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const column_geometry g = {p->in_h, p->in_w, p->in_c, p->k_h, p->k_w, p->stride_h, p->stride_w, p->dil_h,
                               p->dil_w, p->pad_top, p->pad_left, p->col_words / 2, 0, -p->input_offset,
                               tx_pair(-p->input_offset, -p->input_offset), W8_WORDS_PER_GROUP};
    const int32_t groups = g.groups; /* even: columns are a multiple of 8 elements */
    const int32_t col_words = p->col_words, out_c = p->out_c, out_w = p->out_w, batches = p->batches;
    const int32_t pixels = p->out_h * out_w;
    const int32_t *const weights = p->weights, *const bias = p->bias;
    int32_t *cols = (int32_t *)(void *)scratch;
    int8_t *gather = scratch + 12 * col_words;
    int32_t *const records = (int32_t *)(void *)(scratch + TX_CONV2D_GEMM_S8_W8_SCRATCH(col_words, g.in_c, 0));
    /* rq_fast: {m, c, r} records (tx_mr); otherwise the 64-bit ones (tx_output_rs), a path left out of
     * libraries whose layers all have rq_fast (codegen/emitter.py gemm_slow). */
#if defined(TX_CONV2D_GEMM_MR_ONLY)
    const int32_t fast = 1;
#else
    const int32_t fast = p->rq_fast;
#endif
    const int32_t rw = fast ? TX_MR_WORDS : TX_RECORD_WORDS; /* words per record */
    const int32_t wide = act_min == -128 && act_max == 127; /* no activation to apply: one SSAT */
    for (int32_t c = 0; c < out_c; ++c) {
        if (fast) {
            tx_mr_record(p->mult[c], p->shift[c], output_offset, records + TX_MR_WORDS * c);
        } else {
            tx_record_from(p->mult[c], p->shift[c], records + TX_RECORD_WORDS * c);
        }
    }
    /* Channel pairs with whole {m, c, r} blocks: all but an odd last channel. */
    const int32_t fast_pairs = fast ? out_c / 2 : 0, pairs = (out_c + 1) / 2;
    /* A 1x1 convolution whose output pixels are its input pixels (so stride 1, no padding): the
     * column of pixel i is the in_c bytes at in_b + i * in_c, widened straight from the input
     * without build_column; the zero groups past them (in_c % 8 == 4) are written once. The
     * generator leaves the path out of a library with no such layer (codegen/emitter.py gemm_direct). */
#if defined(TX_CONV2D_GEMM_NO_DIRECT)
    const int32_t direct = 0;
#else
    const int32_t direct = g.k_h == 1 && g.k_w == 1 && g.in_h == p->out_h && g.in_w == out_w && g.in_c % 4 == 0;
#endif
    /* pairs_wide serves groups % 4 == 2 only where the library compiled those copies in. */
    int32_t pair_loop = groups % 4 == 0;
#if !defined(TX_CONV2D_GEMM_NO_G2)
    pair_loop |= groups == 2;
#endif
#if !defined(TX_CONV2D_GEMM_NO_ODD)
    pair_loop |= groups % 4 == 2;
#endif
    const int32_t in_groups = g.in_c / 4;
    if (direct) {
        for (int32_t i = 0; i < 3; ++i) {
            fill_groups(cols + 2 * i + in_groups * W8_WORDS_PER_GROUP, groups - in_groups, W8_WORDS_PER_GROUP, 0);
        }
    }

    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_b = in + b * g.in_h * g.in_w * g.in_c;
        int8_t *out_b = out + b * pixels * out_c;
        int32_t y = 0, x = 0; /* output position of the next column to build */
        for (int32_t pix = 0; pix < pixels; pix += 3) {
            /* Three output pixels (fewer at the end). */
            const int32_t n = pixels - pix < 3 ? pixels - pix : 3;
            for (int32_t i = 0; i < 3 && direct; ++i) { /* past the last pixel: the last one again (sums unused) */
                widen_groups(cols + 2 * i, W8_WORDS_PER_GROUP, in_b + (pix + (i < n ? i : n - 1)) * g.in_c,
                             in_groups, g.input_offset);
            }
            for (int32_t i = 0; i < 3 && !direct; ++i) { /* past the last pixel: the next position's (sums unused) */
                build_column(g, in_b, y, x, cols + 2 * i, gather);
                if (i < n && ++x == out_w) {
                    x = 0;
                    ++y;
                }
            }
            /* Why no accumulator overflows: as in tx_conv2d_gemm_s8 below. */
            const int32_t whole = n == 3 ? fast_pairs : 0; /* channel pairs of full {m, c, r} blocks */
            int32_t k = 0;
            if (whole > 0 && wide && pair_loop) {
                pairs_wide(cols, groups, weights, bias, records, out_b + pix * out_c, out_c, whole);
                k = whole;
            }
            const int32_t *w = weights + k * col_words, *bb = bias + 2 * k, *q = records + 2 * k * rw;
            int8_t *d = out_b + pix * out_c + 2 * k;
            for (; k < pairs; ++k) { /* the other blocks; one call site: dot_3x2_w8 is inlined */
                const int32_t two = 2 * k + 1 < out_c; /* otherwise channel 2k + 1 is padding */
                const int32_t b0 = bb[0], b1 = two ? bb[1] : 0;
                const block_3x2 s = dot_3x2_w8(cols, w, groups, (block_3x2){b0, b0, b0, b1, b1, b1});
                if (n == 3 && two && fast) {
                    output_block_mr(s, q, d, out_c, wide, act_min, act_max);
                } else { /* rare since gemm.step_channel: 64-bit records (a left shift), a partial block */
                    for (int32_t i = 0; i < n; ++i) {
                        for (int32_t j = 0; j < 1 + two; ++j) {
                            d[i * out_c + j] = output_one(s, i, j, q + rw * j, fast, output_offset, act_min, act_max);
                        }
                    }
                }
                w += col_words;
                bb += 2;
                q += 2 * rw;
                d += 2;
            }
        }
    }
}

void tx_conv2d_gemm_s8(const tx_conv2d_gemm_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    /* Locals, not p->...: the stores below may alias *p, locals cannot. */
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    if (TX_W8(p)) {
        conv_w8(p, in, out, scratch);
        return;
    }
    const column_geometry g = {p->in_h, p->in_w, p->in_c, p->k_h, p->k_w, p->stride_h, p->stride_w, p->dil_h,
                               p->dil_w, p->pad_top, p->pad_left, p->col_words / 2, p->input_offset,
                               -p->input_offset, 0, WORDS_PER_GROUP};
    const int32_t groups = g.groups; /* even: columns are a multiple of 8 elements */
    const int32_t col_words = p->col_words, out_c = p->out_c, out_w = p->out_w, batches = p->batches;
    const int32_t pixels = p->out_h * out_w;
    const int32_t *const weights = p->weights, *const bias = p->bias;
    int32_t *cols = (int32_t *)(void *)scratch;
    int8_t *gather = scratch + 8 * col_words;
    const int32_t *const requant = p->requant;

    for (int32_t n = 0; n < batches; ++n) {
        const int8_t *in_b = in + n * g.in_h * g.in_w * g.in_c;
        int8_t *out_b = out + n * pixels * out_c;
        int32_t y = 0, x = 0; /* output position of pixel `pix` */
        for (int32_t pix = 0; pix < pixels; pix += 2) {
            /* Two output pixels; at an odd end the second column repeats the first. */
            const int32_t two = pix + 1 < pixels;
            build_column(g, in_b, y, x, cols, gather);
            if (++x == out_w) {
                x = 0;
                ++y;
            }
            if (two) {
                build_column(g, in_b, y, x, cols + 2, gather);
                if (++x == out_w) {
                    x = 0;
                    ++y;
                }
            } else {
                for (int32_t k = 0; k < groups; ++k) {
                    cols[k * WORDS_PER_GROUP + 2] = cols[k * WORDS_PER_GROUP];
                    cols[k * WORDS_PER_GROUP + 3] = cols[k * WORDS_PER_GROUP + 1];
                }
            }
            int8_t *o0 = out_b + pix * out_c;
            int8_t *o1 = o0 + out_c;
            /* Why no accumulator overflows: each product is at most 255 * 128 in
             * magnitude; conv2d.py refuses layers where |bias| + K * 32640 could
             * exceed INT32_MAX (the zero-filled tail adds nothing). */
            int32_t oc = 0;
            if (two) {
                /* The usual case, full 2 x 2 blocks, with pointers stepping through
                 * weights, bias, records and outputs (fewer live values, fewer spills). */
                const int32_t *w = weights, *bb = bias, *q = requant;
                int8_t *d0 = o0, *d1 = o1;
                for (; oc + 1 < out_c; oc += 2) {
                    int32_t acc[4];
                    acc[0] = acc[1] = bb[0];
                    acc[2] = acc[3] = bb[1];
                    dot_2x2(cols, w, groups, acc);
                    tx_output_rs2(acc[0], acc[1], q, d0, d1, output_offset, act_min, act_max);
                    tx_output_rs2(acc[2], acc[3], q + TX_RECORD_WORDS, d0 + 1, d1 + 1, output_offset, act_min,
                                  act_max);
                    w += 2 * col_words;
                    bb += 2;
                    q += 2 * TX_RECORD_WORDS;
                    d0 += 2;
                    d1 += 2;
                }
            }
            for (; oc < out_c; oc += 2) { /* one pixel left, or an odd last channel */
                const int32_t last = oc + 1 == out_c; /* channel oc + 1 is padding */
                int32_t acc[4];
                acc[0] = acc[1] = bias[oc];
                acc[2] = acc[3] = last ? 0 : bias[oc + 1];
                dot_2x2(cols, weights + oc * col_words, groups, acc);
                const int32_t *q = requant + TX_RECORD_WORDS * oc;
                o0[oc] = tx_output_rs(acc[0], q, output_offset, act_min, act_max);
                if (two) {
                    o1[oc] = tx_output_rs(acc[1], q, output_offset, act_min, act_max);
                }
                if (!last) {
                    o0[oc + 1] = tx_output_rs(acc[2], q + TX_RECORD_WORDS, output_offset, act_min, act_max);
                }
            }
        }
    }
}
