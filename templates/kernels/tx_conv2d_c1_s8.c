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
/*
 * `image` for MODE_MR_WIDE and dil_w == 1: one output row per asm block, every register fixed (r7 is
 * left alone):
 *   r0-r4  the channel block: {bias, x0w, x1w, x2w, x3w} by one LDM, then {x4w, m, c, r} by a second
 *   r5 r6 r8 r9 r10  the pixel's taps x0 x1 x2 x3 x4;  r11 dst;  r12 q (the channel blocks);  lr q's end
 *   the stack: the first 6 words of c1_row (below), pushed
 * Per pixel: {p, row bytes, step, p of the row's last pixel, blocks} by one LDM, the taps (3 LDR,
 * 3 LDRH, PKHBT for x3, 2 ADD along the frame rows), p of the next pixel stored back. Per output
 * channel (C1_CHANNEL): 2 LDM, 5 SMLAD, the requantization tx_mr on the doubled sum in 4 (ADD of c
 * and the sum's sign, SMMLAR, ASR, SSAT to int8: no activation to apply), STRB: 12 instructions.
 * C1_ROW_ALL (out_c is 4 or 8): every channel unrolled; nothing between the CMP of p with the
 * last pixel's and the BNE sets the flags: 14 instructions per pixel. C1_ROW_LOOP: `n` channels per
 * loop test (CMP, BNE), the row's end from the stack: 15 per pixel.
 * tx_mr adds the sign of h = SMMULR(2 acc, m) where this adds the sign of acc: they differ only when
 * acc < 0 and h == 0, and then (c - 1) >> r == c >> r as c = 2^(r-1) + output_offset * 2^r with
 * r >= 1 (m >= 0 always).
 */
typedef struct {
    const int16_t *p;      /* the frame at the row's first window   */
    int32_t row_bytes;     /* 2 * frame_w                           */
    int32_t step_bytes;    /* 2 * stride_w                          */
    const int16_t *p_last; /* the frame at the row's last window    */
    const int32_t *blocks;
    int8_t *row_end;       /* out of the row's last pixel + out_c   */
    int8_t *out;           /* the row's first output                */
    const int32_t *q_end;  /* blocks + 9 * out_c                    */
} c1_row;

#define C1_CHANNEL                                                                                               \
    "ldmia  r12!, {r0-r4}\n\t"                                                                                   \
    "smlad  r0, r5, r1, r0\n\t"                                                                                  \
    "smlad  r0, r6, r2, r0\n\t"                                                                                  \
    "smlad  r0, r8, r3, r0\n\t"                                                                                  \
    "smlad  r0, r9, r4, r0\n\t"                                                                                  \
    "ldmia  r12!, {r1-r4}\n\t"                                                                                   \
    "smlad  r0, r10, r1, r0\n\t"                                                                                 \
    "add    r3, r3, r0, asr #31\n\t"                                                                             \
    "smmlar r0, r0, r2, r3\n\t"                                                                                  \
    "asr    r0, r0, r4\n\t"                                                                                      \
    "ssat   r0, #8, r0\n\t"                                                                                      \
    "strb   r0, [r11], #1\n\t"

#define C1_ROW_START                                                                                             \
    "ldr    lr, [r0, #28]\n\t"                                                                                   \
    "ldr    r11, [r0, #24]\n\t"                                                                                  \
    "ldm    r0, {r0-r5}\n\t"                                                                                     \
    "push   {r0-r5}\n\t"                                                                                         \
    "1:\n\t"                                                                                                     \
    "ldm    sp, {r0, r1, r2, r3, r12}\n\t"

#define C1_TAPS                                                                                                  \
    "ldr    r5, [r0]\n\t"                                                                                        \
    "ldrh   r9, [r0, #4]\n\t"                                                                                    \
    "add    r4, r0, r2\n\t"                                                                                      \
    "str    r4, [sp]\n\t"                                                                                        \
    "add    r0, r0, r1\n\t"                                                                                      \
    "ldr    r6, [r0]\n\t"                                                                                        \
    "ldrh   r4, [r0, #4]\n\t"                                                                                    \
    "add    r0, r0, r1\n\t"                                                                                      \
    "ldr    r8, [r0]\n\t"                                                                                        \
    "ldrh   r10, [r0, #4]\n\t"                                                                                   \
    "pkhbt  r9, r9, r4, lsl #16\n\t"

#define C1_ROW_OPERANDS                                                                                          \
    : "+r"(s)                                                                                                    \
    :                                                                                                            \
    : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory"

#define C1_ROW_ALL(n)                                                                                            \
    __asm__ volatile(C1_ROW_START "cmp    r0, r3\n\t" C1_TAPS ".rept " #n "\n\t" C1_CHANNEL ".endr\n\t"           \
                                  "bne    1b\n\t"                                                                \
                                  "add    sp, sp, #24\n\t" C1_ROW_OPERANDS)

#define C1_ROW_LOOP(n)                                                                                           \
    __asm__ volatile(C1_ROW_START C1_TAPS "2:\n\t"                                                               \
                                          ".rept " #n "\n\t" C1_CHANNEL ".endr\n\t"                              \
                                          "cmp    r12, lr\n\t"                                                   \
                                          "bne    2b\n\t"                                                        \
                                          "ldr    r0, [sp, #20]\n\t"                                             \
                                          "cmp    r11, r0\n\t"                                                   \
                                          "bne    1b\n\t"                                                        \
                                          "add    sp, sp, #24\n\t" C1_ROW_OPERANDS)

/* One output row: out_c 4 or 8 unrolled (C1_ROW_ALL), else 4, 2 or 1 channels per loop test. */
static void row_wide(const c1_row *row, int32_t out_c)
{
    register const c1_row *s __asm__("r0") = row;
    if (out_c == 8) {
        C1_ROW_ALL(8);
    } else if (out_c == 4) {
        C1_ROW_ALL(4);
    } else if ((out_c & 3) == 0) {
        C1_ROW_LOOP(4);
    } else if ((out_c & 1) == 0) {
        C1_ROW_LOOP(2);
    } else {
        C1_ROW_LOOP(1);
    }
}

static void image_wide_dw1(const tx_conv2d_c1_s8_params *p, const int16_t *frame, const int32_t *blocks,
                           int8_t *out)
{
    const int32_t out_c = p->out_c, row_out = p->out_w * out_c;
    const int32_t last = (p->out_w - 1) * p->stride_w;
    c1_row row = {frame, 2 * p->frame_w, 2 * p->stride_w, frame + last, blocks, out + row_out, out,
                  blocks + BLOCK_WORDS(MODE_MR_WIDE) * out_c};
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        row_wide(&row, out_c);
        row.p = frame + (oy + 1) * p->stride_h * p->frame_w;
        row.p_last = row.p + last;
        row.out += row_out;
        row.row_end += row_out;
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
