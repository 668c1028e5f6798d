/* tx_conv2d_c1_s8: int8 3x3 convolution over ONE input channel (the first
 * layer of an image or spectrogram model), NHWC, int8 weights (optimize=size).
 *
 * Same arithmetic as tx_conv2d_s8 (TFLM reference_integer_ops::ConvPerChannel,
 * double rounding), bit for bit. The GEMM variant pads such a layer's 9-tap
 * column to 16 and spends most of its work on im2col; here the input is
 * widened once per image into scratch as int16 values plus input_offset, with
 * a frame of zeros for the padding (TFLM skips taps on the padding: they
 * contribute exactly 0). For each output pixel its 9 taps are packed into 5
 * pair words that stay in registers while every output channel is computed
 * from them: 5 SMLADs per channel (one lane of the last word is 0).
 *
 * Each channel's widened weights, bias and requantization record are derived
 * once per call into one scratch block (tx_conv2d_c1_s8.c), so the channel
 * loop reads one contiguous block per output.
 */
#ifndef TX_CONV2D_C1_S8_H
#define TX_CONV2D_C1_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;          /* N of the input and output, >= 1                          */
    int32_t in_h;             /* input height, >= 1                                       */
    int32_t in_w;             /* input width, >= 1 (one input channel)                    */
    int32_t out_h;            /* output height, >= 1                                      */
    int32_t out_w;            /* output width, >= 1                                       */
    int32_t out_c;            /* output channels, >= 1                                    */
    int32_t stride_h;         /* >= 1                                                     */
    int32_t stride_w;         /* >= 1                                                     */
    int32_t dil_h;            /* dilation, >= 1                                           */
    int32_t dil_w;            /* dilation, >= 1                                           */
    int32_t pad_top;          /* rows of implicit padding above the input, >= 0           */
    int32_t pad_left;         /* columns of implicit padding left of the input, >= 0      */
    int32_t frame_h;          /* rows of the widened, framed image: (out_h-1)*stride_h + 2*dil_h + 1 */
    int32_t frame_w;          /* its columns: (out_w-1)*stride_w + 2*dil_w + 1                       */
    int32_t input_offset;     /* minus the input zero point, in [-127, 128]               */
    int32_t output_offset;    /* the output zero point, in [-128, 127]                    */
    int32_t act_min;          /* clamp range of the fused activation, in [-128, 127]      */
    int32_t act_max;          /* act_min <= act_max <= 127                                */
    int32_t rq_fast;          /* 1: requantize with tx_mr (every shift a right shift in [1, 22] or
                                 its multiplier 0, |acc| < 2^30); 0: tx_output_rs records   */
    const int8_t *weights;    /* [out_c][3][3] as in the model                            */
    const int32_t *bias;      /* [out_c] (zeros when the model has no bias)               */
    const int32_t *mult;      /* [out_c] Q31 multipliers                                  */
    const int8_t *shift;      /* [out_c] shifts, > 0: left                                */
} tx_conv2d_c1_s8_params;

/* Words per channel block in scratch: 5 weight pair words, the bias, a 6-word record. */
#define TX_CONV2D_C1_S8_BLOCK 12
/* Bytes of scratch: the channel blocks, then the framed int16 image (rounded up to 4 bytes). */
#define TX_CONV2D_C1_S8_SCRATCH(out_c, frame_h, frame_w) \
    (4 * TX_CONV2D_C1_S8_BLOCK * (out_c) + 4 * (((frame_h) * (frame_w) + 1) / 2))

/* in: [batches][in_h][in_w][1]; out: [batches][out_h][out_w][out_c];
 * scratch: TX_CONV2D_C1_S8_SCRATCH bytes, 4-byte aligned, not overlapping in or out. */
void tx_conv2d_c1_s8(const tx_conv2d_c1_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

#endif /* TX_CONV2D_C1_S8_H */
