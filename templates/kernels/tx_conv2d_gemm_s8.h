/* tx_conv2d_gemm_s8: int8 2-D convolution (one group), NHWC, as a matrix
 * product over im2col columns: the fast CONV_2D variant.
 *
 * Same arithmetic as tx_conv2d_s8 (TFLM reference_integer_ops::ConvPerChannel,
 * double rounding), bit for bit. For each output pixel the kernel builds, in
 * `scratch`, the pixel's column: its k_h * k_w * in_c input values, each plus
 * input_offset and widened to int16 (taps on the padding become exactly 0, as
 * TFLM skips them), zero-filled to col_words pair words. Two columns (two
 * output pixels) are built at a time and every weight row is multiplied with
 * both, two output channels at a time: each loaded word is used twice, and on
 * cores with the DSP extension each SMLAD does two MACs.
 *
 * Weights are generated (codegen/ops/gemm.py) as int16 pair words in the
 * column's element order: within each group of 4 elements [k0 k1 k2 k3] the
 * words are (k0, k2) and (k1, k3) (see tx_widen4_s8 in tx_common.h); the
 * layouts of weights and scratch are described in tx_conv2d_gemm_s8.c.
 *
 * With int8 weights (w8) the columns hold the raw input values (padding taps:
 * the zero point) and `bias` holds bias + input_offset * the sum of the
 * channel's weights (codegen/ops/conv2d.py gemm_bias): the same accumulator,
 * one SADD16 less per two column words.
 */
#ifndef TX_CONV2D_GEMM_S8_H
#define TX_CONV2D_GEMM_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;          /* N of the input and output, >= 1                          */
    int32_t in_h;             /* input height, >= 1                                       */
    int32_t in_w;             /* input width, >= 1                                        */
    int32_t in_c;             /* input channels, >= 1                                     */
    int32_t out_h;            /* output height, >= 1                                      */
    int32_t out_w;            /* output width, >= 1                                       */
    int32_t out_c;            /* output channels, >= 1                                    */
    int32_t k_h;              /* kernel height, >= 1                                      */
    int32_t k_w;              /* kernel width, >= 1                                       */
    int32_t stride_h;         /* >= 1                                                     */
    int32_t stride_w;         /* >= 1                                                     */
    int32_t dil_h;            /* dilation, >= 1                                           */
    int32_t dil_w;            /* dilation, >= 1                                           */
    int32_t pad_top;          /* rows of implicit padding above the input, >= 0           */
    int32_t pad_left;         /* columns of implicit padding left of the input, >= 0      */
    int32_t col_words;        /* pair words per column: k_h*k_w*in_c rounded up to a
                                 multiple of 8, halved                                    */
    int32_t input_offset;     /* minus the input zero point, in [-127, 128]               */
    int32_t output_offset;    /* the output zero point, in [-128, 127]                    */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]      */
    int32_t act_max;          /* act_min <= act_max <= 127                                */
    const int32_t *weights;   /* [(out_c+1)/2][col_words/2][2][2] pair words: channel pairs
                                 interleaved per group of 4 (tx_conv2d_gemm_s8.c)          */
    const int32_t *bias;      /* [out_c] (zeros when the model has no bias); w8: plus
                                 input_offset * the channel's weight sum                 */
    const int32_t *requant;   /* [channels][6] requantization records: tx_output_rs in
                                 tx_common.h (NULL when w8)                                 */
    /* optimize=size (w8 = 1): weights hold int8 values, 4 to a word, and each channel's
     * requantization is its multiplier and shift (records derived once per call, into scratch). */
    int32_t w8;               /* 0: int16 pair-word weights and records; 1: int8 weights
                                 [(out_c+1)/2][col_words/2][2] words, channel pairs
                                 interleaved per group of 4, mult/shift                  */
    const int32_t *mult;      /* [out_c] Q31 multipliers (w8 only)                        */
    const int8_t *shift;      /* [out_c] shifts, > 0: left (w8 only)                      */
    int32_t rq_fast;          /* w8 only, 1: every shift is a right shift in [1, 22] (or its
                                 multiplier 0) and |acc| < 2^30: requantize with SMMULR
                                 (tx_mr in tx_common.h); 0: 64-bit records (tx_output_rs)   */
} tx_conv2d_gemm_s8_params;

/* Bytes of scratch the kernel needs: two columns, plus one byte per column
 * element to gather taps when in_c is not a multiple of 4. */
#define TX_CONV2D_GEMM_S8_SCRATCH(col_words, in_c) (8 * (col_words) + ((in_c) % 4 ? 2 * (col_words) : 0))
/* With w8 (three pixels per block): three columns, the gather row, then the out_c
 * requantization records derived from mult/shift (24 bytes each). */
#define TX_CONV2D_GEMM_S8_W8_SCRATCH(col_words, in_c, out_c) \
    (12 * (col_words) + ((in_c) % 4 ? 2 * (col_words) : 0) + 24 * (out_c))

/* in: [batches][in_h][in_w][in_c]; out: [batches][out_h][out_w][out_c];
 * scratch: TX_CONV2D_GEMM_S8_SCRATCH bytes (TX_CONV2D_GEMM_S8_W8_SCRATCH with w8), 4-byte aligned,
 * not overlapping in or out. */
void tx_conv2d_gemm_s8(const tx_conv2d_gemm_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

#endif /* TX_CONV2D_GEMM_S8_H */
