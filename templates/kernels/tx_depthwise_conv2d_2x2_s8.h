/* tx_depthwise_conv2d_2x2_s8: int8 depthwise convolution, NHWC, 2x2 kernel,
 * stride 2, depth multiplier 1, channels a multiple of 4, one batch, no
 * padding before the first row and column: the exit heads' DEPTHWISE_CONV_2D
 * (T-RecX: depthwise 2x2 stride 2 after the exit's 1x1 convolution).
 *
 * Same results as tx_depthwise_conv2d_s8 (TFLM
 * reference_integer_ops::DepthwiseConvPerChannel, double rounding), bit for
 * bit. The windows do not overlap, so every input value is read once: no
 * widened rows. Per output pixel and 4 channels, in inline asm on DSP cores:
 * 4 loads of 4 channels, 8 SXTB16, 16 SMLABB / SMLATT with the doubled
 * weights of the group (widened once per call into scratch), then TFLM's
 * requantization in SMMLAR, ADD with ASR #31, ASR, SSAT (tx_mr of
 * tx_common.h with SMMLAR adding its constant), 4 STRB: 62 instructions for
 * 16 MACs (86 with a fused activation narrower than int8). As in tx_depthwise_conv2d_3x3_s8, the input offset is folded into the
 * bias at generation time (bias2 = 2 * (bias + input_offset * sum of the
 * channel's weights)) and the raw inputs multiply doubled weights, so the
 * accumulator is 2 * acc; a window's taps past the last row or column (SAME
 * padding of an odd size) read the input zero point, which adds nothing.
 */
#ifndef TX_DEPTHWISE_CONV2D_2X2_S8_H
#define TX_DEPTHWISE_CONV2D_2X2_S8_H

#include <stdint.h>

typedef struct {
    int32_t in_h;           /* input height, >= 1                                             */
    int32_t in_w;           /* input width, >= 1                                              */
    int32_t channels;       /* a multiple of 4                                                */
    int32_t out_h;          /* (in_h + 1) / 2 with SAME padding, in_h / 2 with VALID           */
    int32_t out_w;
    int32_t input_zp;       /* the input zero point (the value of padding)                    */
    int32_t output_offset;  /* the output zero point                                          */
    int32_t act_min;        /* clamp range of the fused activation, in [-128, 127]            */
    int32_t act_max;
    const int8_t *weights;  /* [channels / 4][4 taps (ky, kx)][4 channels] int8               */
    const int32_t *bias2;   /* [channels] 2 * (bias + input_offset * sum of weights)          */
    const int32_t *mult;    /* [channels] Q31 multipliers (0: the output is the zero point)   */
    const int8_t *shift;    /* [channels] shifts, in [-22, -1]                                */
} tx_depthwise_conv2d_2x2_s8_params;

/* Bytes of scratch: one group's record (8 weight pair words, 4 x {bias2, m, c, r}, the clamp range), 4
 * words of a window's taps at the input's edge. */
#define TX_DEPTHWISE_CONV2D_2X2_S8_SCRATCH 120

/* in: [1][in_h][in_w][channels]; out: [1][out_h][out_w][channels]; scratch: 4-byte aligned. */
void tx_depthwise_conv2d_2x2_s8(const tx_depthwise_conv2d_2x2_s8_params *p, const int8_t *in, int8_t *out,
                                int8_t *scratch);

#endif /* TX_DEPTHWISE_CONV2D_2X2_S8_H */
