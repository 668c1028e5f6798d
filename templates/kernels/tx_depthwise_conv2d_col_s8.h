/* tx_depthwise_conv2d_col_s8: int8 depthwise convolution of a tensor one
 * column wide, NHWC [1][in_h][1][channels] -> [1][out_h][1][channels]: a
 * k_h x 1 kernel along H (1-D models; codegen/ops/depthwise_conv2d.py keeps
 * the one kernel column of a k x k layer that meets the input), depth
 * multiplier 1, no dilation along H.
 *
 * Same results as tx_depthwise_conv2d_s8 (TFLM
 * reference_integer_ops::DepthwiseConvPerChannel, double rounding), bit for
 * bit. For each channel c and output y, with taps t reading input row
 * iy = y * stride - pad_top + t (the input zero point when iy is outside,
 * which contributes nothing, as TFLM's skipped taps):
 *   acc2 = bias2[c] + sum_t in[iy][c] * weights[c][t]   (weights doubled)
 * where bias2 = 2 * (bias + input_offset * sum of the channel's weights)
 * folds the input offset (raw int8 inputs times doubled weights give 2 * acc),
 * and the output is TFLM's requantization of acc in the rq_fast form of
 * gemm.fast_requant (SMMLAR with the constant 2^(r-1) + zp * 2^r, then an
 * arithmetic shift by r), clamped to [act_min, act_max].
 *
 * One channel at a time, its weights and requantization constants in
 * registers; outputs whose taps are all inside the input take a loop without
 * bounds checks (unrolled for k_h == 3; two outputs per step when no
 * activation is left to apply: 31 instructions per pair on Cortex-M4).
 */
#ifndef TX_DEPTHWISE_CONV2D_COL_S8_H
#define TX_DEPTHWISE_CONV2D_COL_S8_H

#include <stdint.h>

typedef struct {
    int32_t in_h;          /* input rows, >= 1                                              */
    int32_t out_h;         /* output rows, >= 1                                             */
    int32_t channels;      /* >= 1                                                          */
    int32_t k_h;           /* taps, >= 1                                                    */
    int32_t stride;        /* stride along H, >= 1                                          */
    int32_t pad_top;       /* implicit input rows above the first, >= 0                     */
    int32_t input_zp;      /* the input zero point (the value of padding)                   */
    int32_t output_offset; /* the output zero point                                         */
    int32_t act_min;       /* clamp range of the fused activation, in [-128, 127]           */
    int32_t act_max;
    const int16_t *weights; /* [channels][k_h] 2 * the int8 weights                          */
    const int32_t *bias2;  /* [channels] 2 * (bias + input_offset * sum of weights)         */
    const int32_t *mult;   /* [channels] Q31 multipliers (0: the output is the zero point)  */
    const int8_t *shift;   /* [channels] shifts, < 0                                        */
} tx_depthwise_conv2d_col_s8_params;

/* in: [1][in_h][1][channels]; out: [1][out_h][1][channels]; they must not overlap. */
void tx_depthwise_conv2d_col_s8(const tx_depthwise_conv2d_col_s8_params *p, const int8_t *in, int8_t *out);

#endif /* TX_DEPTHWISE_CONV2D_COL_S8_H */
