/* tx_conv2d_rows_s8: int8 2-D convolution (one group), NHWC, over widened input
 * rows: the CONV_2D variant for few input channels (2, 3, 5 or 6) at stride 1
 * along the width, e.g. a first layer over RGB or an exit head's 1x1 or 3x3
 * convolution over a narrow feature map.
 *
 * Same arithmetic as tx_conv2d_s8 (TFLM reference_integer_ops::ConvPerChannel,
 * double rounding), bit for bit. Where tx_conv2d_gemm_s8 builds an im2col
 * column per output pixel (for 3 or 6 channels: a byte gather, then a widen;
 * about 8 instructions per column element in ee_resnet's 3x3 layers over 6
 * channels, more than their products), this kernel widens each input row
 * once, into one of k_h row slots in scratch: every pixel's in_c values plus
 * input_offset as int16, padded to frame_c channels with zeros, with pad_left
 * zero pixels before and zero pixels after (padding taps become exactly 0, as
 * TFLM skips them). A kernel row of an output pixel is then k_w * frame_c
 * contiguous int16 values of one slot, so three neighbouring output pixels read
 * their windows straight from the slot, at frame_c values from each other.
 *
 * Blocks of three output pixels of one output row x two output channels: each
 * weight word is widened once (SXTB16) and used for the three pixels. Weights
 * are generated (codegen/ops/gemm.py rows_channel_words) per channel pair, per
 * kernel row: groups of 4 values, one int8 word per channel, bytes
 * [k0 k2 k1 k3] (SXTB16 gives the pair (k0, k1), with ROR #8 (k2, k3): the
 * order the values lie in the slot); when k_w * frame_c is not a multiple of 4,
 * a last word [ch0 k0, ch1 k0, ch0 k1, ch1 k1] for the last two values.
 *
 * Requirements (codegen/ops/conv2d.py rows_call checks them): stride 1 along
 * the width, no dilation, out_c even, frame_c 4 or 6, and every channel's
 * multiplier and shift in the form tx_mr takes (rq_fast in tx_conv2d_gemm_s8.h).
 * The DSP loops are written for 1x1 and 3x3 kernels and no activation to clamp
 * (the range all of int8), the generator's only choices; other kernels (up to
 * TX_CONV2D_ROWS_MAX_K_H rows) and clamps run the portable C loop.
 */
#ifndef TX_CONV2D_ROWS_S8_H
#define TX_CONV2D_ROWS_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;          /* N of the input and output, >= 1                          */
    int32_t in_h;             /* input height, >= 1                                       */
    int32_t in_w;             /* input width, >= 1                                        */
    int32_t in_c;             /* input channels, 1 <= in_c <= frame_c                     */
    int32_t out_h;            /* output height, >= 1                                      */
    int32_t out_w;            /* output width, >= 1 (stride 1 along the width)            */
    int32_t out_c;            /* output channels, even, >= 2                              */
    int32_t k_h;              /* kernel height, 1 <= k_h <= TX_CONV2D_ROWS_MAX_K_H        */
    int32_t k_w;              /* kernel width, >= 1                                       */
    int32_t stride_h;         /* >= 1                                                     */
    int32_t pad_top;          /* rows of implicit padding above the input, >= 0           */
    int32_t pad_left;         /* columns of implicit padding left of the input, >= 0      */
    int32_t frame_c;          /* int16 values per widened pixel: 4 or 6                    */
    int32_t frame_w;          /* widened pixels per row slot: 3 * ceil(out_w / 3) + k_w - 1 */
    int32_t input_offset;     /* minus the input zero point, in [-127, 128]               */
    int32_t output_offset;    /* the output zero point, in [-128, 127]                    */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]      */
    int32_t act_max;          /* act_min <= act_max <= 127                                */
    const int32_t *weights;   /* [out_c / 2][k_h][words per kernel row] (see above)       */
    const int32_t *bias;      /* [out_c] (zeros when the model has no bias)               */
    const int32_t *mult;      /* [out_c] Q31 multipliers, tx_mr form (right shifts)       */
    const int8_t *shift;      /* [out_c] shifts, in [-22, -1] (or any, multiplier 0)      */
} tx_conv2d_rows_s8_params;

#define TX_CONV2D_ROWS_MAX_K_H 8 /* row slots the kernel tracks on its stack */

/* Bytes of scratch: the out_c {bias, m, c, r} records (16 bytes each), three output pixels for a
 * short last block (rounded up to 4 bytes), then the k_h row slots of frame_w * frame_c int16
 * values. */
#define TX_CONV2D_ROWS_S8_SCRATCH(out_c, k_h, frame_w, frame_c) \
    (16 * (out_c) + 4 * ((3 * (out_c) + 3) / 4) + 2 * (k_h) * (frame_w) * (frame_c))

/* in: [batches][in_h][in_w][in_c]; out: [batches][out_h][out_w][out_c];
 * scratch: TX_CONV2D_ROWS_S8_SCRATCH bytes, 4-byte aligned, not overlapping in or out. */
void tx_conv2d_rows_s8(const tx_conv2d_rows_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

#endif /* TX_CONV2D_ROWS_S8_H */
