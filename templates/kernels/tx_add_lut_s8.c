/* tx_add_lut_s8: see tx_add_lut_s8.h. */
#include "tx_add_lut_s8.h"
#include "tx_common.h"

/* tx_mr of a sum whose doubling the tables already hold (x2 = 2 * acc). */
static inline int32_t mr2(int32_t x2, int32_t m, int32_t c, int32_t r)
{
    const int32_t v = tx_smmulr(x2, m);
    return (v + c + (v >> 31)) >> r;
}

void tx_add_lut_s8(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out)
{
    /* Locals, not p->...: the int8 stores below may alias *p, locals cannot. */
    const int32_t size = p->size, act_min = p->act_min, act_max = p->act_max;
    const int32_t *const t0 = p->in0_table + 128, *const t1 = p->in1_table + 128; /* index by the int8 value */
    const int32_t m = p->requant[0], c = p->requant[1], r = p->requant[2];
    /* Each table entry is twice a value below 2^28 in magnitude (add.py), so the sum is below 2^30
     * and is 2 * acc with |acc| < 2^29: tx_mr's condition. */
    if (act_min == -128 && act_max == 127) { /* no activation to apply: one SSAT on DSP cores */
        for (int32_t i = 0; i < size; ++i) {
            out[i] = (int8_t)tx_ssat8(mr2(t0[in0[i]] + t1[in1[i]], m, c, r));
        }
        return;
    }
    for (int32_t i = 0; i < size; ++i) {
        out[i] = (int8_t)tx_clamp(mr2(t0[in0[i]] + t1[in1[i]], m, c, r), act_min, act_max);
    }
}
