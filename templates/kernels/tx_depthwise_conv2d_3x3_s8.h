/* tx_depthwise_conv2d_3x3_s8: int8 depthwise convolution, NHWC, 3x3 kernel,
 * depth multiplier 1, channels a multiple of 4, no dilation, stride 1 or 2
 * along the lines it walks: the planar two-output DEPTHWISE_CONV_2D variant.
 *
 * Same results as tx_depthwise_conv2d_s8 (TFLM
 * reference_integer_ops::DepthwiseConvPerChannel, double rounding), bit for
 * bit. The kernel walks "lines": output rows, or output columns when those
 * are longer (codegen/ops/depthwise_conv2d.py picks; the strides and the
 * weight order below follow the choice). For 4 channels at a time, the 3
 * input lines an output line needs are widened once each into a ring of 3
 * slots, planar per channel: word j of a slot holds the int16 values of
 * pixels 2j and 2j + 1 of the line (from pixel -pad_pix; outside the input:
 * the input zero point, which contributes nothing, as TFLM's skipped taps).
 * The ring stores word j of the 4 channels' 3 slots side by side
 * ([words][4][3]), so that every load and store of the inner loops has a
 * constant offset. Slot s holds input line il with il mod 3 == s; each line
 * permutes the kernel lines' weights to match (in registers).
 *
 * Two outputs of one channel per step: per slot one SMLAD and one SMLADX
 * (pixels 0,1 and 1,2 times taps 0,1, PKHBT builds the pixel 1,2 pair) plus
 * two 16x16 multiplies for tap 2: 21 instructions for 18 MACs, weights in
 * registers. The input offset is folded into the bias at generation time
 * (bias2 = 2 * (bias + input_offset * sum of the channel's weights), raw
 * int8 values times doubled weights give 2 * acc), and the requantization is
 * TFLM's double rounding in three instructions (SMMLAR, ADD with ASR #31,
 * ASR; exact under the rq_fast conditions of gemm.fast_requant).
 */
#ifndef TX_DEPTHWISE_CONV2D_3X3_S8_H
#define TX_DEPTHWISE_CONV2D_3X3_S8_H

#include <stdint.h>

typedef struct {
    int32_t lines;          /* output lines, >= 1                                             */
    int32_t len;            /* outputs per line, >= 1                                         */
    int32_t in_lines;       /* input lines                                                    */
    int32_t in_len;         /* input pixels per line                                          */
    int32_t in_line_step;   /* bytes from one input line to the next                          */
    int32_t in_pix_step;    /* bytes from one input pixel of a line to the next               */
    int32_t out_line_step;  /* bytes from one output line to the next                         */
    int32_t out_pix_step;   /* bytes from one output pixel of a line to the next              */
    int32_t stride_line;    /* >= 1                                                           */
    int32_t stride_pix;     /* 1 or 2                                                         */
    int32_t pad_line;       /* implicit input lines before the first, >= 0                    */
    int32_t pad_pix;        /* implicit pixels before the first of a line, >= 0               */
    int32_t channels;       /* a multiple of 4                                                */
    int32_t words;          /* words per widened line: TX_DW3_WORDS(len, stride_pix)          */
    int32_t j0;             /* words j0 .. j1 - 1 have both pixels (2j - pad_pix, + 1) inside  */
    int32_t j1;             /* the input line, 0 <= j0 <= j1 <= words                          */
    int32_t input_zp;       /* the input zero point (the value of padding)                    */
    int32_t output_offset;  /* the output zero point                                          */
    int32_t act_min;        /* clamp range of the fused activation, in [-128, 127]            */
    int32_t act_max;
    const int8_t *weights;  /* [channels][3 line taps][3 pixel taps] int8                     */
    const int32_t *bias2;   /* [channels] 2 * (bias + input_offset * sum of weights)          */
    const int32_t *mult;    /* [channels] Q31 multipliers (0: the output is the zero point)   */
    const int8_t *shift;    /* [channels] shifts, in [-22, -1]                                */
} tx_depthwise_conv2d_3x3_s8_params;

/* Words per widened line: pairs of outputs read words 0 .. pairs (stride 1) or 0 .. 2 * pairs (stride 2). */
#define TX_DW3_WORDS(len, stride_pix) ((stride_pix) * (((len) + 1) / 2) + 1)
/* Bytes of scratch: the ring (words x 4 channels x 3 slots), 3 slot rotations x 4 channels' 16-word
 * records, 3 slot tags. */
#define TX_DEPTHWISE_CONV2D_3X3_S8_SCRATCH(words) (48 * (words) + 768 + 12)

/* in: [1][in_h][in_w][channels]; out: [1][out_h][out_w][channels]; scratch: 4-byte aligned. */
void tx_depthwise_conv2d_3x3_s8(const tx_depthwise_conv2d_3x3_s8_params *p, const int8_t *in, int8_t *out,
                                int8_t *scratch);

#endif /* TX_DEPTHWISE_CONV2D_3X3_S8_H */
