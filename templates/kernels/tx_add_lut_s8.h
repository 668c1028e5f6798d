/* tx_add_lut_s8: int8 element-wise ADD of two same-shape tensors with
 * table-driven input rescaling: the fast ADD variant.
 *
 * Same result as tx_add_s8 (TFLM's reference add, double rounding), bit for
 * bit. Each input's rescaled value requantize((in + in_offset) * 2^left_shift,
 * in_mult, in_shift) depends only on the int8 input, so codegen/ops/add.py
 * tabulates it for all 256 values at generation time (with TFLM's
 * MultiplyByQuantizedMultiplier in codegen/fixedpoint.py), doubled: per
 * element the kernel adds two table entries, which is twice the sum tx_mr
 * doubles, and requantizes it with the output's {m, c, r} record (tx_mr in tx_common.h: one SMMULR; the generator takes this
 * variant only when the output shift is a right shift tx_mr can do).
 */
#ifndef TX_ADD_LUT_S8_H
#define TX_ADD_LUT_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;             /* elements                                                */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]     */
    int32_t act_max;          /* act_min <= act_max <= 127                               */
    const int32_t *in0_table; /* [256] twice the rescaled first input, by value + 128    */
    const int32_t *in1_table; /* [256] twice the rescaled second input, by value + 128   */
    const int32_t *requant;   /* [3] output record {m, c, r} (tx_mr; c holds the zero point) */
} tx_add_lut_s8_params;

/* in0, in1, out: [size]; out may be in0 or in1 (element i is read before it is written). */
void tx_add_lut_s8(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out);

#endif /* TX_ADD_LUT_S8_H */
