/* tx_add_lut_s8: see tx_add_lut_s8.h. */
#include "tx_add_lut_s8.h"
#include "tx_common.h"

/* tx_mr of a sum whose doubling the tables already hold (x2 = 2 * acc), in two steps on DSP cores:
 * SMMLAR gives v + c (the high word of x2 * m + c * 2^32 + 2^31) in one instruction, and the
 * rounding's -[v < 0] may be -[x2 < 0]: they differ only when x2 < 0 and v = 0, where
 * (c - 1) >> r = c >> r = z for c = 2^(r-1) + z * 2^r, r >= 1. */
static inline int32_t mr2(int32_t x2, int32_t m, int32_t c, int32_t r)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t vc;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(vc) : "r"(x2), "r"(m), "r"(c));
#else
    const int32_t vc = (int32_t)(((int64_t)x2 * m + (int64_t)c * ((int64_t)1 << 32) + ((int64_t)1 << 31)) >> 32);
#endif
    return (vc + (x2 >> 31)) >> r;
}

void tx_add_lut_s8(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out)
{
    /* Locals, not p->...: the int8 stores below may alias *p, locals cannot. */
    const int32_t size = p->size, act_min = p->act_min, act_max = p->act_max;
    const int32_t *const t0 = p->in0_table + 128, *const t1 = p->in1_table + 128; /* index by the int8 value */
    const int32_t m = p->requant[0], c = p->requant[1], r = p->requant[2];
    /* Each table entry is twice a value below 2^28 in magnitude (add.py), so the sum is below 2^30
     * and is 2 * acc with |acc| < 2^29: tx_mr's condition. */
    int32_t i = 0;
    if (act_min == -128 && act_max == 127) { /* no activation to apply: one SSAT on DSP cores */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
        /* Two elements per pass, both read before either is written (the output may be an input):
         * 4 LDRSB, 4 table LDR, SMMLAR + ADD + ASR + SSAT each, BFI and one STRH, 23 instructions
         * (12 registers: the loop's end is read from the stack). Without optimisation r7 is the
         * frame pointer: the C loop below. */
        const int8_t *p0 = in0, *p1 = in1, *const end = in0 + (size & ~1);
        int8_t *q = out;
        int32_t a0, a1, b0, b1;
        if (size >= 2) {
            __asm__ volatile("1:\n\t"
                             "ldrsb  %[a1], [%[p0], #1]\n\t"
                             "ldrsb  %[a0], [%[p0]], #2\n\t"
                             "ldrsb  %[b1], [%[p1], #1]\n\t"
                             "ldrsb  %[b0], [%[p1]], #2\n\t"
                             "ldr    %[a0], [%[t0], %[a0], lsl #2]\n\t"
                             "ldr    %[b0], [%[t1], %[b0], lsl #2]\n\t"
                             "ldr    %[a1], [%[t0], %[a1], lsl #2]\n\t"
                             "ldr    %[b1], [%[t1], %[b1], lsl #2]\n\t"
                             "add    %[a0], %[a0], %[b0]\n\t"
                             "add    %[a1], %[a1], %[b1]\n\t"
                             "smmlar %[b0], %[a0], %[m], %[c]\n\t"
                             "smmlar %[b1], %[a1], %[m], %[c]\n\t"
                             "add    %[b0], %[b0], %[a0], asr #31\n\t"
                             "add    %[b1], %[b1], %[a1], asr #31\n\t"
                             "asr    %[b0], %[b0], %[r]\n\t"
                             "asr    %[b1], %[b1], %[r]\n\t"
                             "ssat   %[b0], #8, %[b0]\n\t"
                             "ssat   %[b1], #8, %[b1]\n\t"
                             "bfi    %[b0], %[b1], #8, #8\n\t"
                             "strh   %[b0], [%[q]], #2\n\t"
                             "ldr    %[a1], %[end]\n\t"
                             "cmp    %[p0], %[a1]\n\t"
                             "bne    1b\n\t"
                             : [p0] "+r"(p0), [p1] "+r"(p1), [q] "+r"(q), [a0] "=&r"(a0), [a1] "=&r"(a1),
                               [b0] "=&r"(b0), [b1] "=&r"(b1)
                             : [t0] "r"(t0), [t1] "r"(t1), [m] "r"(m), [c] "r"(c), [r] "r"(r), [end] "m"(end)
                             : "cc", "memory");
            i = size & ~1; /* an odd last element: the loop below */
        }
#else
        for (; i < size; ++i) {
            out[i] = (int8_t)tx_ssat8(mr2(t0[in0[i]] + t1[in1[i]], m, c, r));
        }
        return;
#endif
    }
    for (; i < size; ++i) {
        out[i] = (int8_t)tx_clamp(mr2(t0[in0[i]] + t1[in1[i]], m, c, r), act_min, act_max);
    }
}
