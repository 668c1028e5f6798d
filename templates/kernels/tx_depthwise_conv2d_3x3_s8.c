/* tx_depthwise_conv2d_3x3_s8: see tx_depthwise_conv2d_3x3_s8.h for the
 * arithmetic, the parameters and the layouts. */
#include "tx_depthwise_conv2d_3x3_s8.h"
#include "tx_common.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__) /* -O0 keeps r7 as frame pointer */
#define DW3_ASM 1 /* the pair loops in inline asm (line_asm) */
#endif

/* Words per channel and slot rotation (see group_records): taps 0, 1 of the lines in slots 0-2 as pair
 * words, tap 2 of slots 0 (lo) and 1 (hi), tap 2 of slot 2, bias2, m, c, r, (act_min, act_min),
 * (act_max, act_max), the output step, the end of the pairs' ring words, flags (1: len is odd,
 * 2: another channel follows), the step from the line's last pair of outputs to the next channel's
 * first output, the channel's first ring word. */
#define DW3_REC 16
#define DW3_PADDING (-1) /* slot tag of a padding line (all zero points) */

/* acc + lo(a) * lo(b), lo(a) * hi(b), hi(a) * lo(b), hi(a) * hi(b) (SMLABB, SMLABT, SMLATB, SMLATT). */
static inline int32_t dw3_bb(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlabb(a, b, acc);
#else
    return acc + (int32_t)(int16_t)(uint16_t)(uint32_t)a * (int16_t)(uint16_t)(uint32_t)b;
#endif
}

static inline int32_t dw3_bt(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlabt(a, b, acc);
#else
    return acc + (int32_t)(int16_t)(uint16_t)(uint32_t)a * (b >> 16);
#endif
}

static inline int32_t dw3_tb(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlatb(a, b, acc);
#else
    return acc + (a >> 16) * (int16_t)(uint16_t)(uint32_t)b;
#endif
}

static inline int32_t dw3_tt(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlatt(a, b, acc);
#else
    return acc + (a >> 16) * (b >> 16);
#endif
}

/* acc + lo(a) * hi(b) + hi(a) * lo(b) (SMLADX). */
static inline int32_t dw3_smladx(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smladx(a, b, acc);
#else
    return acc + (int32_t)(int16_t)(uint16_t)(uint32_t)a * (b >> 16) + (a >> 16) * (int16_t)(uint16_t)(uint32_t)b;
#endif
}

/* The pair word (lo(lo_src), hi(hi_src)) (PKHBT with no shift; gcc finds the PKH forms in these C expressions). */
static inline int32_t dw3_pack(int32_t lo_src, int32_t hi_src)
{
    return (int32_t)(((uint32_t)lo_src & 0xFFFFu) | ((uint32_t)hi_src & 0xFFFF0000u));
}

/* (lo(a), lo(b)) and (hi(a), hi(b)): PKHBT with LSL #16, PKHTB with ASR #16. */
static inline int32_t dw3_lows(int32_t a, int32_t b)
{
    return (int32_t)(((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16));
}

static inline int32_t dw3_highs(int32_t a, int32_t b)
{
    return (int32_t)(((uint32_t)a >> 16) | ((uint32_t)b & 0xFFFF0000u));
}

/* The ring word of one channel for pixels u (lo) and v (hi) of a 4-channel word each. */
#define DW3_RING_WORDS_PER_J 12 /* [j][4 channels][3 slots] */

/* Word j of channels c..c+3 from the 4-channel words u (pixel 2j - pad_pix) and v (the next pixel). */
static inline void widen_word(uint32_t u, uint32_t v, int32_t *d)
{
#if defined(DW3_ASM)
    int32_t e0, o0, e1;
    /* volatile: the stores are its point (the outputs are unused). */
    __asm__ volatile("sxtb16 %[e0], %[u]\n\t"
                     "sxtb16 %[o0], %[u], ror #8\n\t"
                     "sxtb16 %[e1], %[v]\n\t"
                     "sxtb16 %[v], %[v], ror #8\n\t"
                     "pkhbt  %[u], %[e0], %[e1], lsl #16\n\t"
                     "pkhtb  %[e1], %[e1], %[e0], asr #16\n\t"
                     "str    %[u], [%[d], #0]\n\t"
                     "str    %[e1], [%[d], #24]\n\t"
                     "pkhbt  %[u], %[o0], %[v], lsl #16\n\t"
                     "pkhtb  %[v], %[v], %[o0], asr #16\n\t"
                     "str    %[u], [%[d], #12]\n\t"
                     "str    %[v], [%[d], #36]\n\t"
                     : [u] "+&r"(u), [v] "+&r"(v), [e0] "=&r"(e0), [o0] "=&r"(o0), [e1] "=&r"(e1)
                     : [d] "r"(d)
                     : "memory");
#else
    const int32_t e0 = tx_sxtb16_even((int32_t)u), o0 = tx_sxtb16_odd((int32_t)u);
    const int32_t e1 = tx_sxtb16_even((int32_t)v), o1 = tx_sxtb16_odd((int32_t)v);
    d[0] = dw3_lows(e0, e1);
    d[3] = dw3_lows(o0, o1);
    d[6] = dw3_highs(e0, e1);
    d[9] = dw3_highs(o0, o1);
#endif
}

/* Words j in [j0, j1) of a line whose pixels are all inside: s points at pixel 2 * j0 - pad_pix. */
static inline void widen_inner(const int8_t *s, int32_t pix_step, int32_t *d, int32_t n)
{
#if defined(DW3_ASM)
    /* Per word: 2 LDR, 4 SXTB16, 4 PKH, 4 STR, pointer and loop: 17 instructions for 8 values. */
    const int32_t two = 2 * pix_step;
    int32_t *const end = d + DW3_RING_WORDS_PER_J * n;
    int32_t u, v, e0, o0, e1;
    if (n <= 0) {
        return;
    }
    __asm__ volatile("1:\n\t"
                     "ldr    %[v], [%[s], %[step]]\n\t"
                     "ldr    %[u], [%[s]]\n\t"
                     "add    %[s], %[s], %[two]\n\t"
                     "sxtb16 %[e0], %[u]\n\t"
                     "sxtb16 %[o0], %[u], ror #8\n\t"
                     "sxtb16 %[e1], %[v]\n\t"
                     "sxtb16 %[v], %[v], ror #8\n\t"
                     "pkhbt  %[u], %[e0], %[e1], lsl #16\n\t"
                     "pkhtb  %[e1], %[e1], %[e0], asr #16\n\t"
                     "str    %[u], [%[d], #0]\n\t"
                     "str    %[e1], [%[d], #24]\n\t"
                     "pkhbt  %[u], %[o0], %[v], lsl #16\n\t"
                     "pkhtb  %[v], %[v], %[o0], asr #16\n\t"
                     "str    %[u], [%[d], #12]\n\t"
                     "str    %[v], [%[d], #36]\n\t"
                     "add    %[d], %[d], #48\n\t"
                     "cmp    %[d], %[end]\n\t"
                     "bne    1b\n\t"
                     : [s] "+r"(s), [d] "+r"(d), [u] "=&r"(u), [v] "=&r"(v), [e0] "=&r"(e0), [o0] "=&r"(o0),
                       [e1] "=&r"(e1)
                     : [step] "r"(pix_step), [two] "r"(two), [end] "r"(end)
                     : "cc", "memory");
#else
    for (int32_t j = 0; j < n; ++j) {
        uint32_t u, v;
        memcpy(&u, s, 4);
        memcpy(&v, s + pix_step, 4);
        s += 2 * pix_step;
        widen_word(u, v, d + DW3_RING_WORDS_PER_J * j);
    }
#endif
}

/* The first word of a line's right edge (past the inner words) whose pixels are both padding. */
static inline int32_t right_padding(const tx_depthwise_conv2d_3x3_s8_params *p)
{
    const int32_t j1 = p->j1;
    return j1 < p->words && 2 * j1 - p->pad_pix < p->in_len ? j1 + 1 : j1;
}

/* Widen input line il (may be padding) of channels c..c+3 into ring slot `slot`: word j of channel k at
 * ring[j * 12 + k * 3 + slot]. Words j0..j1-1 have both pixels inside (params, from the generator);
 * a 3x3 window pads at most one pixel before a line, so word 0 is (padding, pixel 0) when j0 = 1;
 * word j1 may hold the last pixel and padding; the words after it are padding only, written once
 * per call (tx_depthwise_conv2d_3x3_s8), as padding lines are. */
static void widen_line(const tx_depthwise_conv2d_3x3_s8_params *p, const int8_t *in, int32_t il, int32_t c,
                       int32_t *ring, int32_t slot, uint32_t zp)
{
    const int32_t words = p->words, in_len = p->in_len, pix_step = p->in_pix_step, pad = p->pad_pix;
    const int32_t j0 = p->j0, j1 = p->j1;
    int32_t *d = ring + slot;
    if (il < 0 || il >= p->in_lines) {
        for (int32_t j = 0; j < words; ++j) {
            widen_word(zp, zp, d + DW3_RING_WORDS_PER_J * j);
        }
        return;
    }
    const int8_t *src = in + il * p->in_line_step + c;
    uint32_t u;
    if (j0 > 0) { /* pixels -1, 0 */
        memcpy(&u, src, 4);
        widen_word(zp, u, d);
    }
    widen_inner(src + (2 * j0 - pad) * pix_step, pix_step, d + DW3_RING_WORDS_PER_J * j0, j1 - j0);
    if (j1 < words && 2 * j1 - pad < in_len) { /* the last pixel, then padding */
        memcpy(&u, src + (2 * j1 - pad) * pix_step, 4);
        widen_word(u, zp, d + DW3_RING_WORDS_PER_J * j1);
    }
}

static inline int8_t dw3_clamp(int32_t v, int32_t lo, int32_t hi)
{
    v = tx_ssat8(v);
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return (int8_t)v;
}

#if !defined(DW3_ASM)
/* One output line of one channel, stride 1 along the line, in C: q is the channel's ring base
 * ([words][3]), rec its record for this line's slot rotation (see group_records). */
static void line_s1(const int32_t *q, const int32_t *rec, int8_t *o, int32_t step, int32_t len, int32_t lo,
                    int32_t hi)
{
    const int32_t w0 = rec[0], w1 = rec[1], w2 = rec[2], t01 = rec[3], t2 = rec[4], b = rec[5];
    const int32_t m = rec[6], c = rec[7], r = rec[8];
    for (int32_t n = len; n > 0; n -= 2) {
        int32_t a = q[0], x = q[12];
        int32_t acc0 = tx_smlad(a, w0, b);
        int32_t acc1 = dw3_smladx(dw3_pack(x, a), w0, b);
        acc0 = dw3_bb(x, t01, acc0);
        acc1 = dw3_tb(x, t01, acc1);
        a = q[1];
        x = q[13];
        acc0 = tx_smlad(a, w1, acc0);
        acc1 = dw3_smladx(dw3_pack(x, a), w1, acc1);
        acc0 = dw3_bt(x, t01, acc0);
        acc1 = dw3_tt(x, t01, acc1);
        a = q[2];
        x = q[14];
        acc0 = tx_smlad(a, w2, acc0);
        acc1 = dw3_smladx(dw3_pack(x, a), w2, acc1);
        acc0 = dw3_bb(x, t2, acc0);
        acc1 = dw3_tb(x, t2, acc1);
        q += 12;
        o[0] = dw3_clamp(tx_mr2(acc0, m, c, r), lo, hi);
        if (n > 1) {
            o[step] = dw3_clamp(tx_mr2(acc1, m, c, r), lo, hi);
        }
        o += 2 * step;
    }
}

/* As line_s1 for stride 2 along the line: outputs 2k, 2k + 1 read words 2k, 2k + 1, 2k + 2. */
static void line_s2(const int32_t *q, const int32_t *rec, int8_t *o, int32_t step, int32_t len, int32_t lo,
                    int32_t hi)
{
    const int32_t w0 = rec[0], w1 = rec[1], w2 = rec[2], t01 = rec[3], t2 = rec[4], b = rec[5];
    const int32_t m = rec[6], c = rec[7], r = rec[8];
    for (int32_t n = len; n > 0; n -= 2) {
        int32_t acc0 = tx_smlad(q[0], w0, b);
        int32_t x = q[12];
        int32_t acc1 = tx_smlad(x, w0, b);
        acc0 = dw3_bb(x, t01, acc0);
        acc1 = dw3_bb(q[24], t01, acc1);
        acc0 = tx_smlad(q[1], w1, acc0);
        x = q[13];
        acc1 = tx_smlad(x, w1, acc1);
        acc0 = dw3_bt(x, t01, acc0);
        acc1 = dw3_bt(q[25], t01, acc1);
        acc0 = tx_smlad(q[2], w2, acc0);
        x = q[14];
        acc1 = tx_smlad(x, w2, acc1);
        acc0 = dw3_bb(x, t2, acc0);
        acc1 = dw3_bb(q[26], t2, acc1);
        q += 24;
        o[0] = dw3_clamp(tx_mr2(acc0, m, c, r), lo, hi);
        if (n > 1) {
            o[step] = dw3_clamp(tx_mr2(acc1, m, c, r), lo, hi);
        }
        o += 2 * step;
    }
}
#endif

#if defined(DW3_ASM)
/*
 * A whole line of one channel in one inline-asm block (gcc spills the 13 live values in C): the
 * line's weights from rec (LDRD, LDRD, LDR: taps 0, 1 of slots 0-2 in w0..w2, tap 2 of slots 0 / 1 in
 * t01, of slot 2 in t2); then per pair of outputs: the bias (rec[5]), 6 (stride 1) or 9 (stride 2)
 * ring words with constant offsets from q (the first load post-increments q), 3 PKHBT (stride 1),
 * 12 multiply-accumulates; m, c (rec[6..7]) -> SMMLAR, ADD ASR #31; r (rec[8]) -> ASR, SSAT (all
 * the clamp when the activation range is all of int8, as in the MLPerf models, whose ReLUs end in
 * the zero point -128; otherwise DW3_CLAMP with the (act_min, act_min), (act_max, act_max) pairs
 * rec[9..10]: 7 more); the step and q's end (rec[11..12]) -> two STRB, the loop test: 38
 * instructions for 18 MACs.
 * An odd line ends with one more pair whose first output only is stored (rec[13] = len & 1).
 */
#define DW3_MAC_S1                                                                                               \
    "ldr    %[acc0], [%[rec], #20]\n\t"                                                                          \
    "ldr    %[a], [%[q]], #48\n\t"                                                                               \
    "ldr    %[x], [%[q], #0]\n\t"                                                                                \
    "pkhbt  %[t], %[x], %[a]\n\t"                                                                                \
    "smladx %[acc1], %[t], %[w0], %[acc0]\n\t"                                                                   \
    "smlad  %[acc0], %[a], %[w0], %[acc0]\n\t"                                                                   \
    "smlabb %[acc0], %[x], %[t01], %[acc0]\n\t"                                                                  \
    "smlatb %[acc1], %[x], %[t01], %[acc1]\n\t"                                                                  \
    "ldr    %[a], [%[q], #-44]\n\t"                                                                              \
    "ldr    %[x], [%[q], #4]\n\t"                                                                                \
    "pkhbt  %[t], %[x], %[a]\n\t"                                                                                \
    "smladx %[acc1], %[t], %[w1], %[acc1]\n\t"                                                                   \
    "smlad  %[acc0], %[a], %[w1], %[acc0]\n\t"                                                                   \
    "smlabt %[acc0], %[x], %[t01], %[acc0]\n\t"                                                                  \
    "smlatt %[acc1], %[x], %[t01], %[acc1]\n\t"                                                                  \
    "ldr    %[a], [%[q], #-40]\n\t"                                                                              \
    "ldr    %[x], [%[q], #8]\n\t"                                                                                \
    "pkhbt  %[t], %[x], %[a]\n\t"                                                                                \
    "smladx %[acc1], %[t], %[w2], %[acc1]\n\t"                                                                   \
    "smlad  %[acc0], %[a], %[w2], %[acc0]\n\t"                                                                   \
    "smlabb %[acc0], %[x], %[t2], %[acc0]\n\t"                                                                   \
    "smlatb %[acc1], %[x], %[t2], %[acc1]\n\t"

#define DW3_MAC_S2                                                                                               \
    "ldr    %[acc0], [%[rec], #20]\n\t"                                                                          \
    "ldr    %[a], [%[q]], #96\n\t"                                                                               \
    "ldr    %[x], [%[q], #-48]\n\t"                                                                              \
    "ldr    %[t], [%[q], #0]\n\t"                                                                                \
    "smlad  %[acc1], %[x], %[w0], %[acc0]\n\t"                                                                   \
    "smlad  %[acc0], %[a], %[w0], %[acc0]\n\t"                                                                   \
    "smlabb %[acc0], %[x], %[t01], %[acc0]\n\t"                                                                  \
    "smlabb %[acc1], %[t], %[t01], %[acc1]\n\t"                                                                  \
    "ldr    %[a], [%[q], #-92]\n\t"                                                                              \
    "ldr    %[x], [%[q], #-44]\n\t"                                                                              \
    "ldr    %[t], [%[q], #4]\n\t"                                                                                \
    "smlad  %[acc0], %[a], %[w1], %[acc0]\n\t"                                                                   \
    "smlad  %[acc1], %[x], %[w1], %[acc1]\n\t"                                                                   \
    "smlabt %[acc0], %[x], %[t01], %[acc0]\n\t"                                                                  \
    "smlabt %[acc1], %[t], %[t01], %[acc1]\n\t"                                                                  \
    "ldr    %[a], [%[q], #-88]\n\t"                                                                              \
    "ldr    %[x], [%[q], #-40]\n\t"                                                                              \
    "ldr    %[t], [%[q], #8]\n\t"                                                                                \
    "smlad  %[acc0], %[a], %[w2], %[acc0]\n\t"                                                                   \
    "smlad  %[acc1], %[x], %[w2], %[acc1]\n\t"                                                                   \
    "smlabb %[acc0], %[x], %[t2], %[acc0]\n\t"                                                                   \
    "smlabb %[acc1], %[t], %[t2], %[acc1]\n\t"

#define DW3_REQUANT                                                                                              \
    "ldrd   %[a], %[x], [%[rec], #24]\n\t"                                                                       \
    "smmlar %[t], %[acc0], %[a], %[x]\n\t"                                                                       \
    "add    %[acc0], %[t], %[acc0], asr #31\n\t"                                                                 \
    "smmlar %[t], %[acc1], %[a], %[x]\n\t"                                                                       \
    "add    %[acc1], %[t], %[acc1], asr #31\n\t"                                                                 \
    "ldr    %[a], [%[rec], #32]\n\t"                                                                             \
    "asr    %[acc0], %[acc0], %[a]\n\t"                                                                          \
    "asr    %[acc1], %[acc1], %[a]\n\t"                                                                          \
    "ssat   %[acc0], #8, %[acc0]\n\t"                                                                            \
    "ssat   %[acc1], #8, %[acc1]\n\t"

/* A fused activation narrower than int8: both outputs in one pair word, SSUB16 + SEL against the
 * (act_min, act_min) and (act_max, act_max) pairs, the second output back in acc1. */
#define DW3_CLAMP                                                                                                \
    "ldrd   %[a], %[x], [%[rec], #36]\n\t"                                                                       \
    "pkhbt  %[acc0], %[acc0], %[acc1], lsl #16\n\t"                                                              \
    "ssub16 %[t], %[acc0], %[a]\n\t"                                                                             \
    "sel    %[acc0], %[acc0], %[a]\n\t"                                                                          \
    "ssub16 %[t], %[x], %[acc0]\n\t"                                                                             \
    "sel    %[acc0], %[acc0], %[x]\n\t"                                                                          \
    "lsr    %[acc1], %[acc0], #16\n\t"

#define DW3_STORE_LOOP                                                                                           \
    "ldrd   %[a], %[x], [%[rec], #44]\n\t"                                                                       \
    "strb   %[acc0], [%[o]]\n\t"                                                                                 \
    "strb   %[acc1], [%[o], %[a]]\n\t"                                                                           \
    "add    %[o], %[o], %[a], lsl #1\n\t"                                                                        \
    "cmp    %[q], %[x]\n\t"                                                                                      \
    "bne    1b\n\t"

/* The last, single output of an odd line: the pair's first output only. */
#define DW3_STORE_ONE "strb   %[acc0], [%[o]]\n\t"

#define DW3_LOAD_W                                                                                               \
    "4:\n\t"                                                                                                    \
    "ldr    %[q], [%[rec], #60]\n\t"                                                                            \
    "ldrd   %[w0], %[w1], [%[rec], #0]\n\t"                                                                     \
    "ldrd   %[w2], %[t01], [%[rec], #8]\n\t"                                                                    \
    "ldr    %[t2], [%[rec], #16]\n\t"                                                                           \
    "ldr    %[x], [%[rec], #48]\n\t"                                                                            \
    "cmp    %[q], %[x]\n\t"                                                                                     \
    "beq    2f\n\t"                                                                                             \
    "1:\n\t"

#define DW3_TAIL                                                                                                 \
    "2:\n\t"                                                                                                    \
    "ldr    %[x], [%[rec], #52]\n\t"                                                                            \
    "tst    %[x], #1\n\t"                                                                                       \
    "beq    3f\n\t"

/* After the channel's line: the next channel's first output and record, while flag 2 says one follows. */
#define DW3_NEXT                                                                                                 \
    "3:\n\t"                                                                                                    \
    "ldrd   %[x], %[a], [%[rec], #52]\n\t"                                                                      \
    "add    %[o], %[o], %[a]\n\t"                                                                               \
    "add    %[rec], %[rec], #64\n\t"                                                                            \
    "tst    %[x], #2\n\t"                                                                                       \
    "bne    4b\n\t"

#define DW3_OPERANDS                                                                                             \
    : [q] "=&r"(q), [o] "+r"(o), [rec] "+r"(rec), [acc0] "=&r"(acc0), [acc1] "=&r"(acc1), [a] "=&r"(a),          \
      [x] "=&r"(x), [t] "=&r"(t), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [t01] "=&r"(t01),               \
      [t2] "=&r"(t2)                                                                                             \
    :                                                                                                            \
    : "cc", "memory"

/* One line of the 4 channels of a group, in one asm block: o is channel 0's first output, rec channel
 * 0's record for the line's slot rotation (the records hold each channel's ring words and steps). */
static inline void line_asm(const int32_t *rec, int8_t *o, int32_t s2, int32_t clamp)
{
    const int32_t *q;
    int32_t acc0, acc1, a, x, t, w0, w1, w2, t01, t2;
    if (s2 && clamp) {
        __asm__ volatile(DW3_LOAD_W DW3_MAC_S2 DW3_REQUANT DW3_CLAMP DW3_STORE_LOOP DW3_TAIL DW3_MAC_S2 DW3_REQUANT
                         DW3_CLAMP DW3_STORE_ONE DW3_NEXT DW3_OPERANDS);
    } else if (s2) {
        __asm__ volatile(DW3_LOAD_W DW3_MAC_S2 DW3_REQUANT DW3_STORE_LOOP DW3_TAIL DW3_MAC_S2 DW3_REQUANT
                         DW3_STORE_ONE DW3_NEXT DW3_OPERANDS);
    } else if (clamp) {
        __asm__ volatile(DW3_LOAD_W DW3_MAC_S1 DW3_REQUANT DW3_CLAMP DW3_STORE_LOOP DW3_TAIL DW3_MAC_S1 DW3_REQUANT
                         DW3_CLAMP DW3_STORE_ONE DW3_NEXT DW3_OPERANDS);
    } else {
        __asm__ volatile(DW3_LOAD_W DW3_MAC_S1 DW3_REQUANT DW3_STORE_LOOP DW3_TAIL DW3_MAC_S1 DW3_REQUANT
                         DW3_STORE_ONE DW3_NEXT DW3_OPERANDS);
    }
}
#endif

/* The records of channels c..c+3 for the 3 slot rotations: rec[(t * 4 + k) * DW3_REC] for channel
 * c + k when slot s holds the window's line (s - t) mod 3. Weights are doubled (the accumulators
 * are 2 * acc). */
static void group_records(const tx_depthwise_conv2d_3x3_s8_params *p, int32_t c, const int32_t *ring, int32_t *rec)
{
    const int32_t pairs = p->len / 2, per_pair = p->stride_pix == 2 ? 24 : 12, odd = p->len & 1;
    const int32_t lo = tx_pair(p->act_min, p->act_min), hi = tx_pair(p->act_max, p->act_max);
    const int32_t step = p->out_pix_step, output_offset = p->output_offset;
    const int32_t o_next = 1 - 2 * step * pairs; /* o after the last pair (a tail output leaves o there) */
    const int8_t *w = p->weights + c * 9;
    for (int32_t k = 0; k < 4; ++k, w += 9, rec += DW3_REC) {
        const int32_t s = p->shift[c + k];
        const int32_t r = s < 0 ? -s : 1;
        const int32_t l0 = tx_pair(2 * w[0], 2 * w[1]), l1 = tx_pair(2 * w[3], 2 * w[4]);
        const int32_t l2 = tx_pair(2 * w[6], 2 * w[7]);
        const int32_t u0 = 2 * w[2], u1 = 2 * w[5], u2 = 2 * w[8];
        const int32_t bias = p->bias2[c + k], m = p->mult[c + k];
        const int32_t cr = (int32_t)(1u << (r - 1)) + output_offset * (int32_t)(1u << r);
        const int32_t flags = odd | (k < 3 ? 2 : 0);
#if defined(DW3_ASM)
        const int32_t first = (int32_t)(uintptr_t)(ring + 3 * k);
        const int32_t end = (int32_t)(uintptr_t)(ring + 3 * k + per_pair * pairs);
#else
        const int32_t first = 3 * k, end = per_pair * pairs; /* unused: the C loops count outputs */
        (void)ring;
#endif
        /* Rotation t (records t * 4 * DW3_REC on): slot s holds the window's line (s - t) mod 3. */
        int32_t *q0 = rec, *q1 = rec + 4 * DW3_REC, *q2 = rec + 8 * DW3_REC;
        q0[0] = l0;
        q0[1] = l1;
        q0[2] = l2;
        q0[3] = tx_pair(u0, u1);
        q0[4] = u2;
        q1[0] = l2;
        q1[1] = l0;
        q1[2] = l1;
        q1[3] = tx_pair(u2, u0);
        q1[4] = u1;
        q2[0] = l1;
        q2[1] = l2;
        q2[2] = l0;
        q2[3] = tx_pair(u1, u2);
        q2[4] = u0;
        for (int32_t t = 0; t < 3; ++t, q0 += 4 * DW3_REC) {
            q0[5] = bias;
            q0[6] = m;
            q0[7] = cr;
            q0[8] = r;
            q0[9] = lo;
            q0[10] = hi;
            q0[11] = step;
            q0[12] = end;
            q0[13] = flags;
            q0[14] = o_next;
            q0[15] = first;
        }
    }
}

void tx_depthwise_conv2d_3x3_s8(const tx_depthwise_conv2d_3x3_s8_params *p, const int8_t *in, int8_t *out,
                                int8_t *scratch)
{
    /* Locals, not p->...: the int8 stores may alias *p. */
    const int32_t lines = p->lines, len = p->len, words = p->words, channels = p->channels;
    const int32_t stride_line = p->stride_line, pad_line = p->pad_line, s2 = p->stride_pix == 2;
    const int32_t out_line_step = p->out_line_step, out_pix_step = p->out_pix_step;
    const int32_t lo = p->act_min, hi = p->act_max, in_lines = p->in_lines;
    int32_t *ring = (int32_t *)(void *)scratch;             /* [words][4][3] */
    int32_t *recs = ring + DW3_RING_WORDS_PER_J * words;    /* [3][4][DW3_REC] */
    int32_t *held = recs + 12 * DW3_REC;                    /* input line in each slot */
    const uint32_t zp = (uint32_t)(uint8_t)(int8_t)p->input_zp * 0x01010101u; /* 4 padding values */
    held[0] = held[1] = held[2] = INT32_MIN;
    for (int32_t j = right_padding(p); j < words; ++j) { /* padding in every line: written once */
        for (int32_t slot = 0; slot < 3; ++slot) {
            widen_word(zp, zp, ring + DW3_RING_WORDS_PER_J * j + slot);
        }
    }
    for (int32_t c = 0; c < channels; c += 4) {
        group_records(p, c, ring, recs);
        for (int32_t k = 0; k < 3; ++k) { /* a padding line is the same for every group: kept */
            held[k] = held[k] == DW3_PADDING ? DW3_PADDING : INT32_MIN;
        }
        for (int32_t y = 0; y < lines; ++y) {
            const int32_t il0 = y * stride_line - pad_line;
            for (int32_t k = 0; k < 3; ++k) {
                const int32_t il = il0 + k;
                const int32_t slot = (il + 3 * (pad_line + 1)) % 3; /* il >= -pad_line */
                const int32_t tag = il < 0 || il >= in_lines ? DW3_PADDING : il;
                if (held[slot] != tag) {
                    widen_line(p, in, il, c, ring, slot, zp);
                    held[slot] = tag;
                }
            }
            /* Slot s holds the window's line (s - t) mod 3: rotation t's records. */
            const int32_t t = (il0 + 3 * (pad_line + 1)) % 3;
            const int32_t *rec = recs + t * 4 * DW3_REC;
            int8_t *o = out + y * out_line_step + c;
#if defined(DW3_ASM)
            (void)out_pix_step;
            (void)len;
            line_asm(rec, o, s2, lo > -128 || hi < 127);
#else
            for (int32_t k = 0; k < 4; ++k, rec += DW3_REC) {
                if (s2) {
                    line_s2(ring + 3 * k, rec, o + k, out_pix_step, len, lo, hi);
                } else {
                    line_s1(ring + 3 * k, rec, o + k, out_pix_step, len, lo, hi);
                }
            }
#endif
        }
    }
}
