/* tx_avgpool_s8: see tx_avgpool_s8.h for the arithmetic and the parameters. */
#include "tx_avgpool_s8.h"
#include "tx_common.h"

/* TFLM's rounding of a window sum (see tx_avgpool_s8.h), clamped. */
static inline int8_t average(int32_t sum, int32_t n, uint32_t recip, int32_t recip_shift, int32_t act_min,
                             int32_t act_max)
{
    const uint32_t magnitude = (uint32_t)(sum < 0 ? -sum : sum) + (uint32_t)(n >> 1);
    const int32_t q = (int32_t)(((uint64_t)magnitude * recip) >> recip_shift);
    return (int8_t)tx_clamp(sum < 0 ? -q : q, act_min, act_max);
}

/* One loop nest for both paths (the library's flash budget): c4 sums 4 channels per step
 * (tx_sum4_s8), otherwise 1. A window row that spans the input's width joins the next: one run of
 * pixels per window, or one per window row. */
void tx_avgpool_s8(const tx_avgpool_s8_params *p, const int8_t *in, int8_t *out)
{
    /* Locals, not p->...: the int8 stores may alias *p. */
    const int32_t channels = p->channels, in_w = p->in_w, in_h = p->in_h, width = p->c4 ? 4 : 1;
    const int32_t recip_shift = p->recip_shift, act_min = p->act_min, act_max = p->act_max;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + b * in_h * in_w * channels;
        for (int32_t y = 0; y < p->out_h; ++y) {
            const int32_t iy0 = y * p->stride_h - p->pad_top;
            const int32_t y_start = iy0 < 0 ? 0 : iy0;
            const int32_t y_end = iy0 + p->f_h < in_h ? iy0 + p->f_h : in_h;
            for (int32_t x = 0; x < p->out_w; ++x) {
                const int32_t ix0 = x * p->stride_w - p->pad_left;
                const int32_t x_start = ix0 < 0 ? 0 : ix0;
                const int32_t x_end = ix0 + p->f_w < in_w ? ix0 + p->f_w : in_w;
                const int32_t n = (y_end - y_start) * (x_end - x_start);
                const uint32_t recip = p->recip[n];
                const int32_t whole = x_end - x_start == in_w;
                const int32_t runs = whole ? 1 : y_end - y_start, run = whole ? n : x_end - x_start;
                const int8_t *first = in_b + (y_start * in_w + x_start) * channels;
                int8_t *dst = out + ((b * p->out_h + y) * p->out_w + x) * channels;
                for (int32_t c = 0; c < channels; c += width) {
                    /* |sum| <= 128 * n, and n <= f_h * f_w, which pooling.py bounds. */
                    int32_t sums[4] = {0, 0, 0, 0};
                    for (int32_t r = 0; r < runs; ++r) {
                        const int8_t *src = first + r * in_w * channels + c;
                        if (width == 4) {
                            tx_sum4_s8(src, run, channels, sums);
                        } else {
                            for (int32_t i = 0; i < run; ++i) {
                                sums[0] += src[i * channels];
                            }
                        }
                    }
                    for (int32_t k = 0; k < width; ++k) {
                        dst[c + k] = average(sums[k], n, recip, recip_shift, act_min, act_max);
                    }
                }
            }
        }
    }
}
