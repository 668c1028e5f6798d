#include "tx_mean_s8.h"

#include <stdint.h>

#include "tx_common.h"

/* The int8 mean of channel sum `sum` (raw codes). */
static int8_t mean_out(const tx_mean_s8_params *p, int32_t sum)
{
    const int32_t value = tx_requantize_fast(sum + p->input_offset, p->multiplier, p->shift) + p->output_offset;
    return (int8_t)tx_clamp(value, -128, 127);
}

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__ARM_BIG_ENDIAN) /* -O0: too few registers */
/*
 * sums[k] += the bytes k, k + 8 of `chunks` 16-byte chunks from the word-aligned src: per chunk one LDM
 * of 4 words and 8 SXTAB16 into 4 pair words of 16-bit lanes, (b0, b2) (b1, b3) (b4, b6) (b5, b7),
 * two bytes per lane and chunk: 11 instructions per 16 values with the loop test. 128 chunks at a
 * time: |lane| <= 256 * 128, and -32768 <= lane <= 256 * 127 fits int16.
 */
static void sum16_chunks(const int8_t *src, int32_t chunks, int32_t sums[8])
{
    while (chunks > 0) {
        const int32_t n = chunks < 128 ? chunks : 128;
        int32_t left = n, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        register int32_t w0 __asm__("r0"); /* LDM fills ascending registers from ascending addresses */
        register int32_t w1 __asm__("r1");
        register int32_t w2 __asm__("r2");
        register int32_t w3 __asm__("r3");
        __asm__("1:\n\t"
                "ldmia   %[src]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
                "sxtab16 %[a0], %[a0], %[w0]\n\t"
                "sxtab16 %[a1], %[a1], %[w0], ror #8\n\t"
                "sxtab16 %[a2], %[a2], %[w1]\n\t"
                "sxtab16 %[a3], %[a3], %[w1], ror #8\n\t"
                "sxtab16 %[a0], %[a0], %[w2]\n\t"
                "sxtab16 %[a1], %[a1], %[w2], ror #8\n\t"
                "sxtab16 %[a2], %[a2], %[w3]\n\t"
                "sxtab16 %[a3], %[a3], %[w3], ror #8\n\t"
                "subs    %[left], %[left], #1\n\t"
                "bne     1b\n\t"
                : [src] "+r"(src), [left] "+r"(left), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                  [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
                :
                : "cc", "memory");
        const int32_t lanes[4] = {a0, a1, a2, a3};
        for (int32_t k = 0; k < 4; ++k) { /* lanes[k] holds bytes (k & 1) + 4 * (k >> 1) and that + 2 */
            const int32_t byte = (k & 1) + 4 * (k >> 1);
            sums[byte] += (int16_t)(uint16_t)(uint32_t)lanes[k];
            sums[byte + 2] += lanes[k] >> 16;
        }
        chunks -= n;
    }
}
#define TX_MEAN_ASM 1
#else
#define TX_MEAN_ASM 0
#endif

/* sums[k] += the sum of the bytes j of src[0 .. count - 1] with j % 8 == k. */
static void sum_mod8(const int8_t *src, int32_t count, int32_t sums[8])
{
    int32_t j = 0;
#if TX_MEAN_ASM
    if (((uintptr_t)src & 3u) == 0) { /* LDM needs word alignment */
        sum16_chunks(src, count / 16, sums);
        j = count / 16 * 16;
    }
#endif
    for (; j < count; ++j) {
        sums[j & 7] += src[j];
    }
}

/* See tx_mean_s8.h. |sum| <= 128 * n, so int32 holds any n below 2^24. */
void tx_mean_s8(const tx_mean_s8_params *p, const int8_t *in0, int8_t *out0)
{
    const int32_t stride = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = in0 + b * p->spatial * stride;
        int8_t *out = out0 + b * stride;
        int32_t c = 0;
        if (p->packed) { /* 4 or 8 channels: the batch is one stream whose byte j is channel j % C */
            int32_t sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            sum_mod8(in, p->spatial * stride, sums);
            for (; c < stride; ++c) {
                out[c] = mean_out(p, stride == 4 ? sums[c] + sums[c + 4] : sums[c]);
            }
        } else if (p->c4) { /* 4 channels at a time (tx_sum4_s8) */
            for (; c < stride; c += 4) {
                int32_t sums[4] = {0, 0, 0, 0};
                tx_sum4_s8(in + c, p->spatial, stride, sums);
                for (int32_t k = 0; k < 4; ++k) {
                    out[c + k] = mean_out(p, sums[k]);
                }
            }
        }
        for (; c < stride; ++c) {
            int32_t sum = 0;
            for (int32_t i = 0; i < p->spatial; ++i) {
                sum += in[i * stride + c];
            }
            out[c] = mean_out(p, sum);
        }
    }
}
