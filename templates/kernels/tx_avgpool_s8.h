/* tx_avgpool_s8: int8 average pooling, NHWC (TFLM AVERAGE_POOL_2D).
 *
 * For every batch b, output position (y, x) and channel c, the window is the
 * f_h x f_w block starting at (y*stride_h - pad_top, x*stride_w - pad_left),
 * cut to the part inside the input; n is the number of input pixels in it
 * (smaller at the edges with SAME padding). With s the sum of the n int8
 * values:
 *   out[b][y][x][c] = clamp(sign(s) * ((|s| + n/2) / n), act_min, act_max)
 * (integer division), which is TFLM's reference_integer_ops::AveragePool
 * rounding: (s + n/2) / n for s > 0, (s - n/2) / n otherwise, truncating.
 * Input and output share one scale and zero point (TFLM's Prepare requires
 * it), so no requantization happens.
 *
 * c4 = 1 (channels a multiple of 4): four channels at a time, two of them per
 * SXTAB16 on DSP cores (tx_sum4_s8 in tx_common.h); same results.
 *
 * No division at run time: q / n == (q * recip[n]) >> recip_shift for every
 * q in [0, 128*n + n/2], which codegen/ops/pooling.py checks exhaustively for
 * every window size n the layer has before it emits the table.
 */
#ifndef TX_AVGPOOL_S8_H
#define TX_AVGPOOL_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;       /* N of the input and output, >= 1                            */
    int32_t in_h;          /* input height, >= 1                                         */
    int32_t in_w;          /* input width, >= 1                                          */
    int32_t channels;      /* channels of input and output, >= 1                         */
    int32_t out_h;         /* output height, >= 1                                        */
    int32_t out_w;         /* output width, >= 1                                         */
    int32_t f_h;           /* window height, >= 1                                        */
    int32_t f_w;           /* window width, >= 1                                         */
    int32_t stride_h;      /* >= 1                                                       */
    int32_t stride_w;      /* >= 1                                                       */
    int32_t pad_top;       /* rows of padding above the input, >= 0; windows never empty */
    int32_t pad_left;      /* columns of padding left of the input, >= 0; likewise       */
    int32_t act_min;       /* clamp range of the fused activation, in [-128, 127]        */
    int32_t act_max;       /* act_min <= act_max <= 127                                  */
    int32_t recip_shift;   /* right shift after the reciprocal multiply, in [0, 63]      */
    int32_t c4;            /* 1: channels % 4 == 0, the 4-channel path                   */
    const uint32_t *recip; /* [f_h*f_w + 1]: recip[n] for each window size n that occurs
                              (other entries 0)                                          */
} tx_avgpool_s8_params;

/* in: [batches][in_h][in_w][channels]; out: [batches][out_h][out_w][channels]. */
void tx_avgpool_s8(const tx_avgpool_s8_params *p, const int8_t *in, int8_t *out);

#endif /* TX_AVGPOOL_S8_H */
