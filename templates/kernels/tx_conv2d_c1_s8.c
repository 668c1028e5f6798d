/* tx_conv2d_c1_s8: see tx_conv2d_c1_s8.h.
 *
 * Scratch: out_c blocks of 9 words (rq_fast: bias and weights doubled, then the {m, c, r} of tx_mr)
 * or TX_CONV2D_C1_S8_BLOCK words (6-word tx_output_rs records)
 *   {bias, x0w, x1w, x2w, x3w, x4w, record}
 * then the framed image, frame_h x frame_w int16 values, where frame (y, x)
 * holds input (y - pad_top, x - pad_left) + input_offset, or 0 off the input.
 *
 * A pixel's taps t(ky, kx) (rows r0 r1 r2, columns c0 c1 c2) are packed as
 *   x0 = (t00, t01), x1 = (t10, t11), x2 = (t20, t21), x3 = (t02, t12), x4 = (t22, 0)
 * and each channel's weights in the same order, so acc = bias + sum of the
 * five SMLADs.
 */
#include "tx_conv2d_c1_s8.h"

#include <string.h>

#include "tx_common.h"

/* The asm channel loop: DSP cores, GCC, optimized builds (at -O0 its 12 register operands do not fit
 * beside the frame pointer; the C below computes the same values). */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define TX_C1_ASM 1
#else
#define TX_C1_ASM 0
#endif

/* Requantization modes, constant in each specialization of `image`: the 64-bit records
 * (tx_output_rs), tx_mr with the activation clamp, tx_mr with no activation to apply (SSAT). */
#define MODE_RS 0
#define MODE_MR 1
#define MODE_MR_WIDE 2

/* Words per channel block: 1 + 5 + a 6-word record (MODE_RS) or a 3-word {m, c, r} (tx_mr). */
#define BLOCK_WORDS(mode) ((mode) == MODE_RS ? TX_CONV2D_C1_S8_BLOCK : 9)

#if TX_C1_ASM && !defined(__ARM_BIG_ENDIAN)
/* (b1, b3) of a word of 4 int8 values, one SXTB16 with ROR #8. */
static inline uint32_t sxtb16_ror8(int32_t w)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* (lo(a), lo(b)): PKHBT. */
static inline uint32_t pkhbt16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* (hi(a), hi(b)): PKHTB of b's high half with a's high half shifted down. */
static inline uint32_t pkhtb16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}
#endif

/* The channel blocks from the model's weights, bias and multiplier/shift. With rq_fast, bias and
 * weights are doubled (|acc| < 2^30, so 2 * acc fits; 2 * w fits int16): the sum is then tx_mr's
 * SMMULR operand 2 * acc directly. */
static void build_blocks(const tx_conv2d_c1_s8_params *p, int32_t *blocks)
{
    const int32_t k = p->rq_fast ? 2 : 1;
    for (int32_t c = 0; c < p->out_c; ++c) {
        const int8_t *w = p->weights + 9 * c;
        int32_t *b = blocks + (p->rq_fast ? BLOCK_WORDS(MODE_MR) : BLOCK_WORDS(MODE_RS)) * c;
        b[0] = k * p->bias[c];
        b[1] = tx_pair(k * w[0], k * w[1]);
        b[2] = tx_pair(k * w[3], k * w[4]);
        b[3] = tx_pair(k * w[6], k * w[7]);
        b[4] = tx_pair(k * w[2], k * w[5]);
        b[5] = tx_pair(k * w[8], 0);
        if (p->rq_fast) {
            tx_mr_record(p->mult[c], p->shift[c], p->output_offset, b + 6);
        } else {
            tx_record_from(p->mult[c], p->shift[c], b + 6);
        }
    }
}

/* The framed image of one input image (see the top of this file). */
static void build_frame(const tx_conv2d_c1_s8_params *p, const int8_t *in, int16_t *frame)
{
    const int32_t fw = p->frame_w, offset = p->input_offset;
    const int32_t rows = p->in_h < p->frame_h - p->pad_top ? p->in_h : p->frame_h - p->pad_top;
    const int32_t cols = p->in_w < fw - p->pad_left ? p->in_w : fw - p->pad_left;
    memset(frame, 0, (size_t)p->frame_h * (size_t)fw * sizeof(int16_t));
    for (int32_t y = 0; y < rows; ++y) {
        const int8_t *src = in + y * p->in_w;
        int16_t *dst = frame + (y + p->pad_top) * fw + p->pad_left;
        int32_t x = 0;
#if TX_C1_ASM && !defined(__ARM_BIG_ENDIAN)
        /* Four values a step: one load, SXTB16 twice ((b0, b2), (b1, b3)), SADD16 of the offset, two
         * PKHs back to (b0, b1), (b2, b3), two stores (unaligned-capable loads and stores). */
        const int32_t offsets = tx_pair(offset, offset);
        for (; x + 4 <= cols; x += 4) {
            int32_t w;
            memcpy(&w, src + x, sizeof w);
            const uint32_t even = (uint32_t)tx_sadd16(tx_sxtb16_even(w), offsets);
            const uint32_t odd = (uint32_t)tx_sadd16((int32_t)sxtb16_ror8(w), offsets);
            const uint32_t lo = pkhbt16(even, odd), hi = pkhtb16(even, odd);
            memcpy(dst + x, &lo, sizeof lo);
            memcpy(dst + x + 2, &hi, sizeof hi);
        }
#endif
        for (; x < cols; ++x) {
            dst[x] = (int16_t)(src[x] + offset);
        }
    }
}

/* acc of channel block q for the pixel with taps x0..x4. */
static inline int32_t channel_sum(const int32_t *q, int32_t x0, int32_t x1, int32_t x2, int32_t x3, int32_t x4)
{
    int32_t acc = tx_smlad(x0, q[1], q[0]);
    acc = tx_smlad(x1, q[2], acc);
    acc = tx_smlad(x2, q[3], acc);
    acc = tx_smlad(x3, q[4], acc);
    return tx_smlad(x4, q[5], acc);
}

/* The int8 output of sum acc (2 * TFLM's accumulator with rq_fast, see build_blocks) with block q. */
static inline int8_t channel_out(int32_t acc, const int32_t *q, int32_t mode, int32_t output_offset, int32_t act_min,
                                 int32_t act_max)
{
    if (mode == MODE_RS) {
        return tx_output_rs(acc, q + 6, output_offset, act_min, act_max);
    }
    const int32_t h = tx_smmulr(acc, q[6]); /* tx_mr on the doubled sum */
    const int32_t v = (h + q[7] + (h >> 31)) >> q[8];
    if (mode == MODE_MR) {
        return (int8_t)tx_clamp(v, act_min, act_max);
    }
    return (int8_t)tx_ssat8(v);
}

#if TX_C1_ASM
/*
 * MODE_MR_WIDE on DSP cores: every channel of one pixel in one asm loop, 16 instructions per output.
 * The block is read by three LDMs into r0-r3 (LDM fills registers in ascending order from
 * ascending addresses: {bias, x0w, x1w, x2w}, {x3w, x4w, m}, {c, r}); the (doubled) sum stays in
 * r0; tx_mr; SSAT to int8 (no activation to apply: the range is all of int8) and a post-indexed STRB.
 */
static inline void pixel_channels_asm(int32_t x0, int32_t x1, int32_t x2, int32_t x3, int32_t x4, const int32_t *q,
                                      int8_t *dst, const int8_t *end)
{
    register int32_t a __asm__("r0");
    register int32_t b __asm__("r1");
    register int32_t c __asm__("r2");
    register int32_t d __asm__("r3");
    __asm__ volatile(
        "1:\n\t"
        "ldmia  %[q]!, {%[a], %[b], %[c], %[d]}\n\t"
        "smlad  %[a], %[x0], %[b], %[a]\n\t"
        "smlad  %[a], %[x1], %[c], %[a]\n\t"
        "smlad  %[a], %[x2], %[d], %[a]\n\t"
        "ldmia  %[q]!, {%[b], %[c], %[d]}\n\t"
        "smlad  %[a], %[x3], %[b], %[a]\n\t"
        "smlad  %[a], %[x4], %[c], %[a]\n\t"
        "smmulr %[a], %[a], %[d]\n\t"
        "ldmia  %[q]!, {%[b], %[c]}\n\t"
        "add    %[b], %[b], %[a]\n\t"
        "add    %[b], %[b], %[a], asr #31\n\t"
        "asr    %[b], %[b], %[c]\n\t"
        "ssat   %[b], #8, %[b]\n\t"
        "strb   %[b], [%[dst]], #1\n\t"
        "cmp    %[dst], %[end]\n\t"
        "bne    1b\n\t"
        : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [q] "+&r"(q), [dst] "+&r"(dst)
        : [x0] "r"(x0), [x1] "r"(x1), [x2] "r"(x2), [x3] "r"(x3), [x4] "r"(x4), [end] "r"(end)
        : "cc", "memory");
}
#endif

/* Every channel of one pixel with taps x0..x4 in registers, into dst[0 .. out_c - 1], two at a time. */
static inline void pixel_channels(const int32_t x0, const int32_t x1, const int32_t x2, const int32_t x3,
                                  const int32_t x4, const int32_t *q, int32_t out_c, int8_t *dst, int32_t mode,
                                  int32_t output_offset, int32_t act_min, int32_t act_max)
{
#if TX_C1_ASM
    if (mode == MODE_MR_WIDE) {
        pixel_channels_asm(x0, x1, x2, x3, x4, q, dst, dst + out_c);
        return;
    }
#endif
    int8_t *const end = dst + (out_c & ~1);
    const int32_t bw = BLOCK_WORDS(mode);
    for (; dst != end; dst += 2, q += 2 * bw) {
        const int32_t a = channel_sum(q, x0, x1, x2, x3, x4);
        const int32_t b = channel_sum(q + bw, x0, x1, x2, x3, x4);
        dst[0] = channel_out(a, q, mode, output_offset, act_min, act_max);
        dst[1] = channel_out(b, q + bw, mode, output_offset, act_min, act_max);
    }
    if (out_c & 1) {
        dst[0] = channel_out(channel_sum(q, x0, x1, x2, x3, x4), q, mode, output_offset, act_min, act_max);
    }
}

#if TX_C1_ASM && !defined(__ARM_BIG_ENDIAN)
/* The pair word of p[0], p[1] (little-endian: p[0] in the low half) by one unaligned-capable load. */
static inline int32_t load_pair(const int16_t *p)
{
    int32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* `image` for MODE_MR_WIDE and dil_w == 1: each row's first two taps are one word load; the third
 * taps of rows 0 and 1 one PKHBT of two loads (the upper halves read stay inside the frame: rows 0
 * and 1 are never its last). */
static void image_wide_dw1(const tx_conv2d_c1_s8_params *p, const int16_t *frame, const int32_t *blocks,
                           int8_t *out)
{
    const int32_t out_c = p->out_c, fw = p->frame_w, sw = p->stride_w, row_step = p->dil_h * fw;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int16_t *r0 = frame + oy * p->stride_h * fw;
        for (int8_t *const row_end = out + p->out_w * out_c; out != row_end; r0 += sw, out += out_c) {
            const int16_t *r1 = r0 + row_step, *r2 = r1 + row_step;
            const uint32_t t0 = (uint32_t)load_pair(r0 + 2), t1 = (uint32_t)load_pair(r1 + 2);
            const int32_t x3 = (int32_t)((t0 & 0xFFFFu) | (t1 << 16));
            pixel_channels_asm(load_pair(r0), load_pair(r1), load_pair(r2), x3, (int32_t)(uint16_t)r2[2], blocks,
                               out, out + out_c);
        }
    }
}
#define TX_C1_DW1 1
#else
#define TX_C1_DW1 0
#endif

/* One image's outputs from its framed image; `mode` is constant in each call below. */
static inline void image(const tx_conv2d_c1_s8_params *p, const int16_t *frame, const int32_t *blocks, int8_t *out,
                         int32_t mode)
{
    const int32_t out_c = p->out_c, fw = p->frame_w, dw = p->dil_w, row_step = p->dil_h * fw;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int16_t *r0 = frame + oy * p->stride_h * fw;
        for (int32_t ox = 0; ox < p->out_w; ++ox, r0 += p->stride_w, out += out_c) {
            const int16_t *r1 = r0 + row_step, *r2 = r1 + row_step;
            const int32_t x0 = tx_pair(r0[0], r0[dw]), x1 = tx_pair(r1[0], r1[dw]), x2 = tx_pair(r2[0], r2[dw]);
            const int32_t x3 = tx_pair(r0[2 * dw], r1[2 * dw]), x4 = (int32_t)(uint16_t)r2[2 * dw];
            pixel_channels(x0, x1, x2, x3, x4, blocks, out_c, out, mode, output_offset, act_min, act_max);
        }
    }
}

void tx_conv2d_c1_s8(const tx_conv2d_c1_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    int32_t *const blocks = (int32_t *)(void *)scratch;
    int16_t *const frame = (int16_t *)(void *)(scratch + 4 * TX_CONV2D_C1_S8_BLOCK * p->out_c);
    build_blocks(p, blocks);
    for (int32_t b = 0; b < p->batches; ++b) {
        build_frame(p, in + b * p->in_h * p->in_w, frame);
        int8_t *const dst = out + b * p->out_h * p->out_w * p->out_c;
        if (!p->rq_fast) {
            image(p, frame, blocks, dst, MODE_RS);
        } else if (TX_C1_DW1 && p->act_min == -128 && p->act_max == 127 && p->dil_w == 1) {
#if TX_C1_DW1
            image_wide_dw1(p, frame, blocks, dst);
#endif
        } else if (p->act_min == -128 && p->act_max == 127) {
            image(p, frame, blocks, dst, MODE_MR_WIDE);
        } else {
            image(p, frame, blocks, dst, MODE_MR);
        }
    }
}
