/* tx_depthwise_conv2d_c4_s8: int8 depthwise convolution, NHWC, depth
 * multiplier 1, channels a multiple of 4, no dilation: the fast
 * DEPTHWISE_CONV_2D variant.
 *
 * Same arithmetic as tx_depthwise_conv2d_s8 (TFLM
 * reference_integer_ops::DepthwiseConvPerChannel, double rounding), bit for
 * bit. The input rows an output row needs are widened once into a ring of k_h
 * rows in `scratch`: every value plus input_offset as int16, four channels in
 * two pair words (c0, c2), (c1, c3) (tx_widen4_s8 in tx_common.h), with the
 * left and right padding columns stored as 0 (= zero point + offset, which
 * is what TFLM's skipped taps contribute). A widened row is stored group by
 * group: [in_c / 4][row_w][2] words, so that a group's taps along a row are
 * 8 bytes apart. Each tap then costs one LDRD per four channels for the
 * input, one for the weights, and one 16x16 multiply-accumulate per channel
 * (SMLABB / SMLATT on cores with the DSP extension).
 *
 * When windows do not overlap (stride >= kernel in both directions, e.g. the
 * 2x2 stride-2 depthwise of an exit head) each input value is read once: the
 * kernel then skips the ring and widens each tap's 4-channel word in
 * registers (its scratch is allocated all the same).
 *
 * Weights are generated (codegen/ops/depthwise_conv2d.py) as pair words in
 * the same order, group by group: [in_c / 4][k_h][k_w][2] words
 * (w c0, w c2), (w c1, w c3).
 */
#ifndef TX_DEPTHWISE_CONV2D_C4_S8_H
#define TX_DEPTHWISE_CONV2D_C4_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;          /* N of the input and output, >= 1                          */
    int32_t in_h;             /* input height, >= 1                                       */
    int32_t in_w;             /* input width, >= 1                                        */
    int32_t in_c;             /* channels (input = output), a multiple of 4               */
    int32_t out_h;            /* output height, >= 1                                      */
    int32_t out_w;            /* output width, >= 1                                       */
    int32_t k_h;              /* kernel height, 1 to 8                                    */
    int32_t k_w;              /* kernel width, >= 1                                       */
    int32_t stride_h;         /* >= 1                                                     */
    int32_t stride_w;         /* >= 1                                                     */
    int32_t pad_top;          /* rows of implicit padding above the input, >= 0           */
    int32_t pad_left;         /* columns of implicit padding left of the input, >= 0      */
    int32_t row_w;            /* columns of a widened row: (out_w - 1) * stride_w + k_w   */
    int32_t input_offset;     /* minus the input zero point, in [-127, 128]               */
    int32_t output_offset;    /* the output zero point, in [-128, 127]                    */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]      */
    int32_t act_max;          /* act_min <= act_max <= 127                                */
    const int32_t *weights;   /* [in_c / 4][k_h][k_w][2] pair words (see above)           */
    const int32_t *bias;      /* [in_c] (zeros when the model has no bias)                */
    const int32_t *requant;   /* [channels][6] requantization records: tx_output_rs in
                                 tx_common.h (NULL when w8)                                 */
    /* optimize=size (w8 = 1): weights are int8, [in_c / 4][k_h][k_w] words of 4 channels
     * c0 | c1 << 8 | c2 << 16 | c3 << 24, widened (SXTB16) per group and output row into
     * scratch; the records are derived from mult/shift once per call (tx_record_from). */
    int32_t w8;               /* 0: pair-word weights and records; 1: int8 weights, mult/shift */
    const int32_t *mult;      /* [in_c] Q31 multipliers (w8 only)                         */
    const int8_t *shift;      /* [in_c] shifts, > 0: left (w8 only)                       */
    int32_t rq_fast;          /* w8 only, 1: requantize with SMMULR ({m, c, r} records, tx_mr
                                 in tx_common.h; conditions checked at generation time)   */
} tx_depthwise_conv2d_c4_s8_params;

/* Bytes of scratch: k_h widened rows of row_w * in_c int16 values, one row
 * of zeros (for padding rows), and k_h words recording which input row each
 * ring slot holds. */
#define TX_DEPTHWISE_CONV2D_C4_S8_SCRATCH(k_h, row_w, in_c) (4 * (k_h) + 2 * ((k_h) + 1) * (row_w) * (in_c))
/* With w8: plus one group's widened taps (8 bytes each) and every channel's record (24 bytes). */
#define TX_DEPTHWISE_CONV2D_C4_S8_W8_EXTRA(k_h, k_w, in_c) (8 * (k_h) * (k_w) + 24 * (in_c))

/* in: [batches][in_h][in_w][in_c]; out: [batches][out_h][out_w][in_c];
 * scratch: TX_DEPTHWISE_CONV2D_C4_S8_SCRATCH bytes, 4-byte aligned, not overlapping in or out. */
void tx_depthwise_conv2d_c4_s8(const tx_depthwise_conv2d_c4_s8_params *p, const int8_t *in, int8_t *out,
                               int8_t *scratch);

#endif /* TX_DEPTHWISE_CONV2D_C4_S8_H */
