/* tx_depthwise_conv2d_col_s8: see tx_depthwise_conv2d_col_s8.h for the arithmetic and the parameters. */
#include "tx_depthwise_conv2d_col_s8.h"
#include "tx_common.h"

/* The clamped output of acc2 = 2 * acc (tx_mr2, tx_common.h). */
static inline int8_t col_output(int32_t acc2, int32_t m, int32_t c, int32_t r, int32_t act_min, int32_t act_max)
{
    return (int8_t)tx_clamp(tx_mr2(acc2, m, c, r), act_min, act_max);
}

/* acc2 of the output whose first tap reads input row iy0 (rows outside the input read the zero point). */
static int32_t edge_acc2(const int8_t *in_c, const int16_t *w, int32_t k_h, int32_t iy0, int32_t in_h,
                         int32_t channels, int32_t zp, int32_t acc2)
{
    for (int32_t t = 0; t < k_h; ++t) {
        const int32_t iy = iy0 + t;
        const int32_t x = iy >= 0 && iy < in_h ? in_c[iy * channels] : zp;
        acc2 += x * w[t];
    }
    return acc2;
}

void tx_depthwise_conv2d_col_s8(const tx_depthwise_conv2d_col_s8_params *p, const int8_t *in, int8_t *out)
{
    /* Locals, not p->...: the int8 stores may alias *p. */
    const int32_t in_h = p->in_h, out_h = p->out_h, channels = p->channels, k_h = p->k_h, stride = p->stride;
    const int32_t pad = p->pad_top, zp = p->input_zp, act_min = p->act_min, act_max = p->act_max;
    /* Outputs y_lo .. y_hi - 1 have every tap inside: y * stride >= pad, y * stride - pad + k_h <= in_h. */
    int32_t y_lo = (pad + stride - 1) / stride, y_hi = in_h + pad >= k_h ? (in_h + pad - k_h) / stride + 1 : 0;
    y_lo = y_lo < out_h ? y_lo : out_h;
    y_hi = y_hi < y_lo ? y_lo : y_hi < out_h ? y_hi : out_h;
    const int32_t in_step = stride * channels, full = act_min == -128 && act_max == 127;
    for (int32_t c = 0; c < channels; ++c) {
        const int16_t *w = p->weights + c * k_h;
        const int8_t *in_c = in + c;
        const int32_t bias2 = p->bias2[c], m = p->mult[c];
        const int32_t r = p->shift[c] < 0 ? -p->shift[c] : 1;
        const int32_t cr = (int32_t)(1u << (r - 1)) + p->output_offset * (int32_t)(1u << r);
        for (int32_t y = 0; y < y_lo; ++y) {
            const int32_t acc2 = edge_acc2(in_c, w, k_h, y * stride - pad, in_h, channels, zp, bias2);
            out[y * channels + c] = col_output(acc2, m, cr, r, act_min, act_max);
        }
        const int8_t *src = in_c + (y_lo * stride - pad) * channels;
        int8_t *dst = out + y_lo * channels + c;
        if (k_h == 3) {
            const int32_t w0 = w[0], w1 = w[1], w2 = w[2], two = 2 * channels;
            const int8_t *const end = dst + (y_hi - y_lo) * channels;
            if (full) { /* no activation to apply: one SSAT on DSP cores */
                const int8_t *const end2 = dst + ((y_hi - y_lo) & ~1) * channels;
                for (; dst != end2; src += 2 * in_step, dst += two) {
                    const int8_t *s1 = src + in_step;
                    const int32_t acc_a = bias2 + src[0] * w0 + src[channels] * w1 + src[two] * w2;
                    const int32_t acc_b = bias2 + s1[0] * w0 + s1[channels] * w1 + s1[two] * w2;
                    dst[0] = (int8_t)tx_ssat8(tx_mr2(acc_a, m, cr, r));
                    dst[channels] = (int8_t)tx_ssat8(tx_mr2(acc_b, m, cr, r));
                }
                if (dst != end) {
                    const int32_t acc2 = bias2 + src[0] * w0 + src[channels] * w1 + src[two] * w2;
                    *dst = (int8_t)tx_ssat8(tx_mr2(acc2, m, cr, r));
                }
            } else {
                for (; dst != end; src += in_step, dst += channels) {
                    const int32_t acc2 = bias2 + src[0] * w0 + src[channels] * w1 + src[two] * w2;
                    *dst = col_output(acc2, m, cr, r, act_min, act_max);
                }
            }
        } else {
            for (int32_t y = y_lo; y < y_hi; ++y, src += in_step, dst += channels) {
                int32_t acc2 = bias2;
                for (int32_t t = 0; t < k_h; ++t) {
                    acc2 += src[t * channels] * w[t];
                }
                *dst = col_output(acc2, m, cr, r, act_min, act_max);
            }
        }
        for (int32_t y = y_hi; y < out_h; ++y) {
            const int32_t acc2 = edge_acc2(in_c, w, k_h, y * stride - pad, in_h, channels, zp, bias2);
            out[y * channels + c] = col_output(acc2, m, cr, r, act_min, act_max);
        }
    }
}
