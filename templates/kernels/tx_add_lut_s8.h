/* tx_add_lut_s8: int8 element-wise ADD of two same-shape tensors with
 * table-driven input rescaling: the fast ADD variant.
 *
 * Same result as tx_add_s8 (TFLM's reference add, double rounding), bit for
 * bit. Each input's rescaled value requantize((in + in_offset) * 2^left_shift,
 * in_mult, in_shift) depends only on the int8 input, so codegen/ops/add.py
 * tabulates it for all 256 values at generation time (with TFLM's
 * MultiplyByQuantizedMultiplier in codegen/fixedpoint.py). Per element the
 * kernel adds two table entries and requantizes the sum with one output
 * record (tx_output_rs in tx_common.h).
 *
 * rq_fast (the output shift is a right shift in [1, 22], codegen/ops/gemm.py
 * fast_requant, and size % 4 == 0): the tables hold twice the rescaled inputs and the record is
 * {m, c, r} (tx_mr in tx_common.h; the doubling is its shift of the sum by one),
 * and on DSP cores four elements run at a time (one word of each input, one
 * word out). A library whose ADDs all take it is generated with
 * TX_ADD_LUT_FAST_ONLY, which leaves the 64-bit path out (flash).
 */
#ifndef TX_ADD_LUT_S8_H
#define TX_ADD_LUT_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;             /* elements                                                */
    int32_t output_offset;    /* the output zero point, in [-128, 127]                   */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]     */
    int32_t act_max;          /* act_min <= act_max <= 127                               */
    const int32_t *in0_table; /* [256] rescaled first input, indexed by value + 128
                                 (twice that with rq_fast)                               */
    const int32_t *in1_table; /* [256] rescaled second input, indexed by value + 128
                                 (twice that with rq_fast)                               */
    const int32_t *requant;   /* [6] output requantization record (tx_output_rs), or with
                                 rq_fast [3] {m, c, r} (tx_mr)                           */
    int32_t rq_fast;          /* 1: doubled tables and the {m, c, r} record               */
} tx_add_lut_s8_params;

/* in0, in1, out: [size]; out may be in0 or in1 (element i is read before it is written). */
void tx_add_lut_s8(const tx_add_lut_s8_params *p, const int8_t *in0, const int8_t *in1, int8_t *out);

#endif /* TX_ADD_LUT_S8_H */
