/* tx_add_lut_s8: see tx_add_lut_s8.h. */
#include "tx_add_lut_s8.h"
#include "tx_common.h"

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
/* Element k (byte k of the input words a and b) of a word: the doubled table sum, tx_mr with the
 * {m, c, r} record, SSAT, inserted as byte k of o. 11 instructions, 2 of them loads. */
#define TX_ADD_ONE(pos, ror) \
    "sxtb   %[x], %[a]" ror "\n\t" \
    "ldr    %[s], [%[t0], %[x], lsl #2]\n\t" \
    "sxtb   %[x], %[b]" ror "\n\t" \
    "ldr    %[x], [%[t1], %[x], lsl #2]\n\t" \
    "add    %[s], %[s], %[x]\n\t" \
    "smmulr %[s], %[s], %[m]\n\t" \
    "add    %[x], %[s], %[c]\n\t" \
    "add    %[s], %[x], %[s], asr #31\n\t" \
    "asr    %[s], %[s], %[r]\n\t" \
    "ssat   %[s], #8, %[s]\n\t" \
    "bfi    %[o], %[s], #" pos ", #8\n\t"
#endif

/* rq_fast: tables of doubled rescaled inputs, the {m, c, r} output record (tx_mr), size % 4 == 0.
 * On DSP cores a word of each input at a time: four elements as TX_ADD_ONE, the activation range
 * taken bytewise (SSUB8 sets a GE flag per byte, SEL picks), one word out; the index runs from
 * -size up to 0, so its ADDS ends the loop. 14 registers. */
static void add_fast(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out)
{
    const int32_t size = p->size, act_min = p->act_min, act_max = p->act_max;
    const int32_t *const t0 = p->in0_table + 128, *const t1 = p->in1_table + 128; /* index by the int8 value */
    const int32_t m = p->requant[0], c = p->requant[1], r = p->requant[2];
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
    const struct {
        uint32_t lo, hi; /* act_min, act_max in every byte */
    } range = {0x01010101u * (uint8_t)act_min, 0x01010101u * (uint8_t)act_max};
    const int8_t *const e0 = in0 + size, *const e1 = in1 + size;
    int8_t *const eo = out + size;
    int32_t i = -size, a, b, x, s, o;
    if (size <= 0) {
        return;
    }
    __asm__ volatile("1:\n\t"
                     "ldr    %[a], [%[e0], %[i]]\n\t"
                     "ldr    %[b], [%[e1], %[i]]\n\t"
                     TX_ADD_ONE("0", "") TX_ADD_ONE("8", ", ror #8") TX_ADD_ONE("16", ", ror #16")
                     TX_ADD_ONE("24", ", ror #24")
                     "ldrd   %[x], %[s], %[range]\n\t"
                     "ssub8  %[a], %[o], %[x]\n\t"
                     "sel    %[o], %[o], %[x]\n\t"
                     "ssub8  %[a], %[s], %[o]\n\t"
                     "sel    %[o], %[o], %[s]\n\t"
                     "str    %[o], [%[eo], %[i]]\n\t"
                     "adds   %[i], %[i], #4\n\t"
                     "bne    1b\n\t"
                     : [i] "+r"(i), [a] "=&r"(a), [b] "=&r"(b), [x] "=&r"(x), [s] "=&r"(s), [o] "=&r"(o)
                     : [e0] "r"(e0), [e1] "r"(e1), [eo] "r"(eo), [t0] "r"(t0), [t1] "r"(t1), [m] "r"(m),
                       [c] "r"(c), [r] "r"(r), [range] "m"(range)
                     : "cc", "memory");
#else
    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = tx_smmulr(t0[in0[i]] + t1[in1[i]], m);
        out[i] = (int8_t)tx_clamp((v + c + (v >> 31)) >> r, act_min, act_max);
    }
#endif
}

void tx_add_lut_s8(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out)
{
    if (p->rq_fast) {
        add_fast(p, in0, in1, out);
        return;
    }
#if !defined(TX_ADD_LUT_FAST_ONLY)
    /* Locals, not p->...: the int8 stores below may alias *p, locals cannot. */
    const int32_t size = p->size, output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *const t0 = p->in0_table + 128, *const t1 = p->in1_table + 128; /* index by the int8 value */
    const int32_t *const q = p->requant;
    const int32_t m = q[0], hi_shift = q[1], pre = q[4];
    const uint32_t mask = (uint32_t)q[5];
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[3] << 32) | (uint32_t)q[2]);
    for (int32_t i = 0; i < size; ++i) {
        /* Each table entry is below 2^28 in magnitude (add.py), so the sum fits int32. */
        const int32_t x = (int32_t)((uint32_t)(t0[in0[i]] + t1[in1[i]]) << pre);
        const int64_t t = (int64_t)x * m + round - (int64_t)((uint32_t)x & mask); /* as tx_output_rs */
        out[i] = (int8_t)tx_clamp(((int32_t)(t >> 32) >> hi_shift) + output_offset, act_min, act_max);
    }
#endif
}
