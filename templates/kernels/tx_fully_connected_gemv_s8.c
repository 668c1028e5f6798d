/* tx_fully_connected_gemv_s8: see tx_fully_connected_gemv_s8.h. */
#include "tx_fully_connected_gemv_s8.h"
#include "tx_common.h"

#include <string.h>

/* The 4 inputs at x as the pair words (x0, x2) and (x1, x3). */
static inline void widen_inputs(const int8_t *x, int32_t *even, int32_t *odd)
{
#if defined(__ARM_FEATURE_DSP)
    uint32_t v;
    memcpy(&v, x, 4);
    *even = __sxtb16((int32_t)v);
    *odd = __sxtb16((int32_t)((v >> 8) | (v << 24))); /* ROR #8 */
#else
    *even = tx_pair(x[0], x[2]);
    *odd = tx_pair(x[1], x[3]);
#endif
}

/* acc += the two units' rows at w (one word per unit per group, interleaved) . the input. */
static inline int32_t *unit_pair(const int8_t *x, const int32_t *w, int32_t groups, int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (int32_t g = 0; g < groups; ++g) {
        int32_t even, odd;
        widen_inputs(x, &even, &odd);
        const int32_t w0 = w[0], w1 = w[1];
        a0 = tx_smlad(odd, tx_sxtb16_odd(w0), tx_smlad(even, tx_sxtb16_even(w0), a0));
        a1 = tx_smlad(odd, tx_sxtb16_odd(w1), tx_smlad(even, tx_sxtb16_even(w1), a1));
        x += 4;
        w += 2;
    }
    acc[0] = a0;
    acc[1] = a1;
    return (int32_t *)(uintptr_t)w;
}

#if !defined(TX_GEMV_NO_LAST_UNIT) /* left out of libraries whose layers all have an even number of units */
/* acc + an odd last unit's row at w . the input. The layout pairs that row with a zero row (its words
 * are every other word), which unit_pair would multiply too: on DSP cores 9 instructions per group of
 * 4 inputs (two groups per pass: LDR + 2 SXTB16 for the inputs, LDR + 2 SXTB16 for the weights, 2
 * SMLAD), not unit_pair's 18 or so. */
static inline int32_t unit_last(const int8_t *x, const int32_t *w, int32_t groups, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define TX_GEMV_LAST_GROUP \
    "ldr    %[o], [%[x]], #4\n\t" \
    "ldr    %[t], [%[w]], #8\n\t" \
    "sxtb16 %[e], %[o]\n\t" \
    "sxtb16 %[o], %[o], ror #8\n\t" \
    "sxtb16 %[u], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad  %[acc], %[e], %[u], %[acc]\n\t" \
    "smlad  %[acc], %[o], %[t], %[acc]\n\t"
    /* groups is even (depth % 8 == 0) and at least 2 */
    const int8_t *const end = x + 4 * groups;
    int32_t e, o, t, u;
    __asm__("1:\n\t" TX_GEMV_LAST_GROUP TX_GEMV_LAST_GROUP
            "cmp    %[x], %[end]\n\t"
            "bne    1b\n\t"
            : [x] "+r"(x), [w] "+r"(w), [acc] "+r"(acc), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t), [u] "=&r"(u)
            : [end] "r"(end)
            : "cc", "memory");
#undef TX_GEMV_LAST_GROUP
    return acc;
#else
    for (int32_t g = 0; g < groups; ++g) {
        int32_t even, odd;
        widen_inputs(x, &even, &odd);
        acc = tx_smlad(odd, tx_sxtb16_odd(w[2 * g]), tx_smlad(even, tx_sxtb16_even(w[2 * g]), acc));
        x += 4;
    }
    return acc;
#endif
}
#endif

/* The size variant (w8): one word of 4 int8 weights per unit per group, widened by SXTB16.
 * Units go four at a time (two interleaved pairs, read through two pointers), so that each
 * input word is loaded and widened once per four units: per group of 4 inputs, 1 LDR +
 * 2 SXTB16 for the input, 2 LDRD + 8 SXTB16 for the weights, 8 SMLAD (16 MACs). The rest
 * (a last pair, an odd last unit) goes two at a time. */
/* Units u .. u + n - 1 from their accumulators (tx_output_ms2): one copy of the requantization for
 * the quads and one for the rest (the library's flash is tight: IC's budget). */
static inline void store_units(const int32_t *acc, int32_t n, const int32_t *m, const int8_t *s, int8_t *out,
                               int32_t output_offset, int32_t act_min, int32_t act_max)
{
    for (int32_t k = 0; k < n; ++k) {
        tx_output_ms2(acc[k], acc[k], m[k], s[k], out + k, NULL, output_offset, act_min, act_max);
    }
}

static void gemv_w8(const tx_fully_connected_gemv_s8_params *p, const int8_t *in, int8_t *out)
{
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t groups = p->depth / 4, units = p->units;
    const int32_t *w = p->weights, *m = p->mult;
    const int8_t *s = p->shift;
    int32_t u = 0;
    for (; u + 3 < units; u += 4) {
        const int32_t *wa = w, *wb = w + 2 * groups; /* units u, u+1 and u+2, u+3 */
        const int8_t *x = in;
        int32_t a0 = p->bias[u], a1 = p->bias[u + 1], a2 = p->bias[u + 2], a3 = p->bias[u + 3];
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
        /* UNIT: one unit's word t of 4 weights against the widened inputs e, o (2 SMLAD). */
#define TX_GEMV_UNIT(acc, wt) \
        "sxtb16 %[t], %[" wt "]\n\t" \
        "smlad  %[" acc "], %[e], %[t], %[" acc "]\n\t" \
        "sxtb16 %[" wt "], %[" wt "], ror #8\n\t" \
        "smlad  %[" acc "], %[o], %[" wt "], %[" acc "]\n\t"
#define TX_GEMV_GROUP \
        "ldr    %[o], [%[x]], #4\n\t" \
        "ldrd   %[w0], %[w1], [%[wa]], #8\n\t" \
        "sxtb16 %[e], %[o]\n\t" \
        "sxtb16 %[o], %[o], ror #8\n\t" \
        TX_GEMV_UNIT("a0", "w0") TX_GEMV_UNIT("a1", "w1") \
        "ldrd   %[w0], %[w1], [%[wb]], #8\n\t" \
        TX_GEMV_UNIT("a2", "w0") TX_GEMV_UNIT("a3", "w1")
        {
            /* groups is even (depth % 8 == 0): two groups per pass, 44 instructions for 32 MACs. */
            const int8_t *const end = x + 4 * groups;
            int32_t e, o, t, w0, w1;
            __asm__("1:\n\t" TX_GEMV_GROUP TX_GEMV_GROUP
                    "cmp    %[x], %[end]\n\t"
                    "bne    1b\n\t"
                    : [x] "+r"(x), [wa] "+r"(wa), [wb] "+r"(wb), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
                      [a3] "+r"(a3), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t), [w0] "=&r"(w0), [w1] "=&r"(w1)
                    : [end] "r"(end)
                    : "cc", "memory");
        }
#undef TX_GEMV_GROUP
#undef TX_GEMV_UNIT
#else
        for (int32_t g = 0; g < groups; ++g) {
            int32_t even, odd;
            widen_inputs(x, &even, &odd);
            const int32_t w0 = wa[0], w1 = wa[1], w2 = wb[0], w3 = wb[1];
            a0 = tx_smlad(odd, tx_sxtb16_odd(w0), tx_smlad(even, tx_sxtb16_even(w0), a0));
            a1 = tx_smlad(odd, tx_sxtb16_odd(w1), tx_smlad(even, tx_sxtb16_even(w1), a1));
            a2 = tx_smlad(odd, tx_sxtb16_odd(w2), tx_smlad(even, tx_sxtb16_even(w2), a2));
            a3 = tx_smlad(odd, tx_sxtb16_odd(w3), tx_smlad(even, tx_sxtb16_even(w3), a3));
            x += 4;
            wa += 2;
            wb += 2;
        }
#endif
        const int32_t acc[4] = {a0, a1, a2, a3};
        store_units(acc, 4, m + u, s + u, out + u, output_offset, act_min, act_max);
        w += 4 * groups;
    }
    for (; u + 1 < units; u += 2) {
        int32_t acc[2] = {p->bias[u], p->bias[u + 1]};
        w = unit_pair(in, w, groups, acc);
        store_units(acc, 2, m + u, s + u, out + u, output_offset, act_min, act_max);
    }
#if !defined(TX_GEMV_NO_LAST_UNIT)
    if (u < units) { /* an odd last unit: its row alone */
        const int32_t acc = unit_last(in, w, groups, p->bias[u]);
        store_units(&acc, 1, m + u, s + u, out + u, output_offset, act_min, act_max);
    }
#endif
}

void tx_fully_connected_gemv_s8(const tx_fully_connected_gemv_s8_params *p, const int8_t *in, int8_t *out)
{
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    if (TX_W8(p)) {
        gemv_w8(p, in, out);
        return;
    }
    const int32_t *const requant = p->requant;
    const int32_t groups = p->depth / 4;
    for (int32_t u = 0; u < p->units; u += 2) {
        const int32_t last = u + 1 == p->units; /* odd units: unit u + 1 is padding */
        const int32_t *w = p->weights + u * (p->depth / 2);
        const int8_t *x = in;
        /* Why no accumulator overflows: fully_connected.py picks this kernel only when
         * |bias_folded| + depth * 128 * 128 fits in int32. */
        int32_t acc0 = p->bias[u], acc1 = last ? 0 : p->bias[u + 1];
        for (int32_t g = 0; g < groups; ++g) {
            /* 4 inputs [x0 x1 x2 x3] -> pair words (x0, x2), (x1, x3): the weights' order. */
#if defined(__ARM_FEATURE_DSP)
            uint32_t v;
            memcpy(&v, x, 4);
            const int32_t even = __sxtb16((int32_t)v);
            const int32_t odd = __sxtb16((int32_t)((v >> 8) | (v << 24))); /* ROR #8 */
#else
            const int32_t even = tx_pair(x[0], x[2]);
            const int32_t odd = tx_pair(x[1], x[3]);
#endif
            acc0 = tx_smlad(even, w[0], acc0);
            acc0 = tx_smlad(odd, w[1], acc0);
            acc1 = tx_smlad(even, w[2], acc1);
            acc1 = tx_smlad(odd, w[3], acc1);
            x += 4;
            w += 4;
        }
        out[u] = tx_output_rs(acc0, requant + TX_RECORD_WORDS * u, output_offset, act_min, act_max);
        if (!last) {
            out[u + 1] = tx_output_rs(acc1, requant + TX_RECORD_WORDS * (u + 1), output_offset, act_min, act_max);
        }
    }
}
