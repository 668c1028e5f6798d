/* tx_mean_s8: int8 mean over height and width of an NHWC tensor (TFLM MEAN).
 *
 * For every batch b and channel c, over the n = height * width positions:
 *   sum = sum_hw in[b][h][w][c]                            (raw codes, int32)
 *   out[b][c] = clamp(MultiplyByQuantizedMultiplier(sum - input_zero_point * n,
 *                                                   multiplier, shift)
 *                     + output_zero_point, -128, 127)
 * multiplier/shift are input_scale / output_scale with 1/n folded in, exactly
 * as TFLM's reference_ops::QuantizedMeanOrSum folds it (a truncating 64-bit
 * division done once at generation time), so the kernel has no division.
 * The tflite-micro build that is tinyexit's oracle takes this path for every
 * int8 MEAN: keep_dims or not, matched or different quantization.
 *
 * The output layout is [batches][channels] whether or not the model keeps the
 * reduced dimensions (a kept [b][1][1][c] has the same bytes).
 */
#ifndef TX_MEAN_S8_H
#define TX_MEAN_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;         /* N                                                    */
    int32_t spatial;         /* n = H * W, the positions averaged, >= 1              */
    int32_t channels;        /* C                                                    */
    int32_t input_offset;    /* -input_zero_point * n, added to each raw sum         */
    int32_t output_offset;   /* the output zero point, in [-128, 127]                */
    int32_t multiplier;      /* Q31, input_scale / (output_scale * n) with shift      */
    int32_t shift;           /* in [-31, 30]; > 0 shifts left                         */
    int32_t c4;              /* 1: channels % 4 == 0, four channels at a time (tx_sum4_s8) */
    int32_t packed;          /* 1: channels 4 or 8, each batch summed as one byte stream,
                                16 bytes per LDM + 8 SXTAB16 on DSP cores                  */
} tx_mean_s8_params;

/* in0: [batches][spatial][channels] int8; out0: [batches][channels] int8. */
void tx_mean_s8(const tx_mean_s8_params *p, const int8_t *in0, int8_t *out0);

#endif
