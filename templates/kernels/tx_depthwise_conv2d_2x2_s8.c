/* tx_depthwise_conv2d_2x2_s8: see tx_depthwise_conv2d_2x2_s8.h for the
 * arithmetic, the parameters and the layouts. */
#include "tx_depthwise_conv2d_2x2_s8.h"
#include "tx_common.h"

#include <string.h>

/* The group record (words): [0..7] tap t's doubled weights as pair words (c0, c2), (c1, c3);
 * [8..11] bias2 of channels 0-3; [12 + 3k ..] channel k's {m, c, r} (tx_mr_record with c for
 * SMMLAR); [24..25] act_min, act_max. */
#define DW2_REC 26

static void group_record(const tx_depthwise_conv2d_2x2_s8_params *p, int32_t c, int32_t *rec)
{
    const int8_t *w = p->weights + c * 4; /* [tap][4 channels] */
    for (int32_t t = 0; t < 4; ++t, w += 4) {
        rec[2 * t] = tx_pair(2 * w[0], 2 * w[2]);
        rec[2 * t + 1] = tx_pair(2 * w[1], 2 * w[3]);
    }
    for (int32_t k = 0; k < 4; ++k) {
        const int32_t s = p->shift[c + k];
        const int32_t r = s < 0 ? -s : 1;
        rec[8 + k] = p->bias2[c + k];
        rec[12 + 3 * k] = p->mult[c + k];
        rec[13 + 3 * k] = (int32_t)(1u << (r - 1)) + p->output_offset * (int32_t)(1u << r);
        rec[14 + 3 * k] = r;
    }
    rec[24] = p->act_min;
    rec[25] = p->act_max;
}

/*
 * Writes o[k] = channel k's output for the window whose taps (4 channels each) are at p, p + step
 * (row 0) and p2, p2 + step (row 1); clamp: apply the fused activation (rec[24..25]: act_min,
 * act_max), else the range is all of int8 and SSAT is the whole clamp.
 */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__) /* -O0 keeps r7 as frame pointer */
#define DW2_TAP(ptr, off, reg)                                                                                   \
    "ldr    %[a], [%[" ptr "]" off "]\n\t"                                                                       \
    "ldrd   %[w0], %[w1], [%[rec], #" reg "]\n\t"                                                                \
    "sxtb16 %[e], %[a]\n\t"                                                                                      \
    "sxtb16 %[a], %[a], ror #8\n\t"                                                                              \
    "smlabb %[v0], %[e], %[w0], %[v0]\n\t"                                                                       \
    "smlatt %[v2], %[e], %[w0], %[v2]\n\t"                                                                       \
    "smlabb %[v1], %[a], %[w1], %[v1]\n\t"                                                                       \
    "smlatt %[v3], %[a], %[w1], %[v3]\n\t"

#define DW2_REQUANT(v, mc, r)                                                                                    \
    "ldrd   %[a], %[e], [%[rec], #" mc "]\n\t"                                                                   \
    "smmlar %[w0], %[" v "], %[a], %[e]\n\t"                                                                     \
    "add    %[" v "], %[w0], %[" v "], asr #31\n\t"                                                              \
    "ldr    %[a], [%[rec], #" r "]\n\t"                                                                          \
    "asr    %[" v "], %[" v "], %[a]\n\t"                                                                        \
    "ssat   %[" v "], #8, %[" v "]\n\t"

#define DW2_BODY                                                                                                 \
    "ldrd   %[v0], %[v1], [%[rec], #32]\n\t"                                                                     \
    "ldrd   %[v2], %[v3], [%[rec], #40]\n\t" DW2_TAP("p", "", "0") DW2_TAP("p", ", %[step]", "8")                \
        DW2_TAP("p2", "", "16") DW2_TAP("p2", ", %[step]", "24") DW2_REQUANT("v0", "48", "56")                   \
            DW2_REQUANT("v1", "60", "68") DW2_REQUANT("v2", "72", "80") DW2_REQUANT("v3", "84", "92")

#define DW2_CLAMP1(v)                                                                                            \
    "cmp    %[" v "], %[a]\n\t"                                                                                  \
    "it     lt\n\t"                                                                                              \
    "movlt  %[" v "], %[a]\n\t"                                                                                  \
    "cmp    %[" v "], %[e]\n\t"                                                                                  \
    "it     gt\n\t"                                                                                              \
    "movgt  %[" v "], %[e]\n\t"

#define DW2_CLAMP "ldrd   %[a], %[e], [%[rec], #96]\n\t" DW2_CLAMP1("v0") DW2_CLAMP1("v1") DW2_CLAMP1("v2") DW2_CLAMP1("v3")

#define DW2_STORE                                                                                                \
    "strb   %[v0], [%[o]]\n\t"                                                                                   \
    "strb   %[v1], [%[o], #1]\n\t"                                                                               \
    "strb   %[v2], [%[o], #2]\n\t"                                                                               \
    "strb   %[v3], [%[o], #3]\n\t"

#define DW2_OPERANDS                                                                                             \
    : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3), [a] "=&r"(a), [e] "=&r"(e),               \
      [w0] "=&r"(w0), [w1] "=&r"(w1)                                                                             \
    : [p] "r"(p), [p2] "r"(p2), [step] "r"(step), [rec] "r"(rec), [o] "r"(o)                                     \
    : "cc", "memory"

static inline void window(const int8_t *p, const int8_t *p2, int32_t step, const int32_t *rec, int8_t *o,
                          int32_t clamp)
{
    int32_t v0, v1, v2, v3, a, e, w0, w1;
    if (clamp) {
        __asm__ volatile(DW2_BODY DW2_CLAMP DW2_STORE DW2_OPERANDS);
    } else {
        __asm__ volatile(DW2_BODY DW2_STORE DW2_OPERANDS);
    }
}
#else
static inline void window(const int8_t *p, const int8_t *p2, int32_t step, const int32_t *rec, int8_t *o,
                          int32_t clamp)
{
    const int8_t *taps[4] = {p, p + step, p2, p2 + step};
    int32_t acc[4] = {rec[8], rec[9], rec[10], rec[11]};
    for (int32_t t = 0; t < 4; ++t) {
        const int32_t even = rec[2 * t], odd = rec[2 * t + 1];
        const int32_t wk[4] = {(int16_t)(uint16_t)(uint32_t)even, (int16_t)(uint16_t)(uint32_t)odd, even >> 16,
                               odd >> 16};
        for (int32_t k = 0; k < 4; ++k) {
            acc[k] += taps[t][k] * wk[k];
        }
    }
    for (int32_t k = 0; k < 4; ++k) {
        const int32_t *q = rec + 12 + 3 * k;
        const int32_t high = (int32_t)(((int64_t)acc[k] * q[0] + ((int64_t)1 << 31)) >> 32); /* SMMLAR */
        const int32_t v = tx_ssat8((high + q[1] + (acc[k] >> 31)) >> q[2]);
        o[k] = (int8_t)(clamp ? tx_clamp(v, rec[24], rec[25]) : v);
    }
}
#endif

void tx_depthwise_conv2d_2x2_s8(const tx_depthwise_conv2d_2x2_s8_params *p, const int8_t *in, int8_t *out,
                                int8_t *scratch)
{
    /* Locals, not p->...: the int8 stores may alias *p. */
    const int32_t in_h = p->in_h, in_w = p->in_w, channels = p->channels, out_h = p->out_h, out_w = p->out_w;
    const int32_t clamp = p->act_min > -128 || p->act_max < 127;
    const int32_t row = in_w * channels, pixel_step = 2 * channels;
    const int32_t inner_w = in_w / 2; /* windows with both columns inside */
    const uint32_t zp = (uint32_t)(uint8_t)(int8_t)p->input_zp * 0x01010101u;
    int32_t *rec = (int32_t *)(void *)scratch;
    uint32_t *edge = (uint32_t *)(void *)(rec + DW2_REC); /* the 4 taps of a window past the input's edge */
    for (int32_t c = 0; c < channels; c += 4) {
        group_record(p, c, rec);
        int8_t *dst = out + c;
        for (int32_t y = 0; y < out_h; ++y) {
            const int8_t *src = in + 2 * y * row + c;
            const int32_t bottom = 2 * y + 1 < in_h;
            int32_t x = 0;
            if (bottom) {
                for (; x < inner_w; ++x, src += pixel_step, dst += channels) {
                    window(src, src + row, channels, rec, dst, clamp);
                }
            }
            for (; x < out_w; ++x, src += pixel_step, dst += channels) { /* the zero point past the edge */
                const int32_t right = 2 * x + 1 < in_w;
                edge[0] = edge[1] = edge[2] = edge[3] = zp;
                memcpy(&edge[0], src, 4);
                if (right) {
                    memcpy(&edge[1], src + channels, 4);
                }
                if (bottom) {
                    memcpy(&edge[2], src + row, 4);
                }
                window((const int8_t *)edge, (const int8_t *)(edge + 2), 4, rec, dst, clamp);
            }
        }
    }
}
