#include "tx_mean_s8.h"
#include "tx_common.h"

/* See tx_mean_s8.h. |sum| <= 128 * n, so int32 holds any n below 2^24. */
void tx_mean_s8(const tx_mean_s8_params *p, const int8_t *in0, int8_t *out0)
{
    const int32_t stride = p->channels;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = in0 + b * p->spatial * stride;
        int8_t *out = out0 + b * stride;
        int32_t c = 0;
        if (p->c4) { /* 4 channels at a time (tx_sum4_s8) */
            for (; c < stride; c += 4) {
                int32_t sums[4] = {0, 0, 0, 0};
                tx_sum4_s8(in + c, p->spatial, stride, sums);
                for (int32_t k = 0; k < 4; ++k) {
                    const int32_t value =
                        tx_requantize(sums[k] + p->input_offset, p->multiplier, p->shift) + p->output_offset;
                    out[c + k] = (int8_t)tx_clamp(value, -128, 127);
                }
            }
        }
        for (; c < stride; ++c) {
            int32_t sum = 0;
            for (int32_t i = 0; i < p->spatial; ++i) {
                sum += in[i * stride + c];
            }
            const int32_t value = tx_requantize(sum + p->input_offset, p->multiplier, p->shift) + p->output_offset;
            out[c] = (int8_t)tx_clamp(value, -128, 127);
        }
    }
}
