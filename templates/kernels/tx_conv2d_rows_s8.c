/* tx_conv2d_rows_s8: see tx_conv2d_rows_s8.h for the arithmetic, the layouts and the parameters.
 *
 * Per output row: the k_h input rows it needs are widened into their slots (row fy of the
 * padded input lives in slot fy % k_h, so with stride_h < k_h a row is widened once and
 * reused by the next output rows), then blocks of three output pixels x two channels. On
 * cores with the DSP extension, with no activation to apply and the shapes of first layers
 * and exit heads (frame_c 4 or 6, 1x1 or 3x3 kernels), one inline-asm loop per shape runs
 * the whole blocks of an output row, every channel pair with its sums in registers (a short
 * last block: once more, into scratch); elsewhere the same words go through the C loop
 * (tx_smlad).
 */
#include "tx_conv2d_rows_s8.h"
#include "tx_common.h"

#include <string.h>

#define RECORD_WORDS 4 /* per output channel in scratch: {bias, m, c, r} (tx_mr_record) */

/* The values the row and block loops read, copied out of the params (locals cannot alias
 * the int16/int8 stores). */
typedef struct {
    int32_t in_h, in_w, in_c, k_h, k_w, pad_top, pad_left, frame_c, frame_w, input_offset;
    int32_t out_c, groups, half; /* per kernel row: groups of 4 values, and a last pair (0/1) */
} rows_geometry;

/* 0, hidden from the optimiser, so that the short zero-filling loops below stay loops rather
 * than calls to memset (which cost more than the few words they write). */
static inline int32_t opaque_zero(void)
{
    int32_t z = 0;
#if defined(__GNUC__)
    __asm__("" : "+r"(z));
#endif
    return z;
}

/* words[0..n) = 0. */
static inline void zero_words(int32_t *words, int32_t n)
{
    const int32_t z = opaque_zero();
    for (int32_t i = 0; i < n; ++i) {
        words[i] = z;
    }
}

/* d[0..n/2) = the pair words of (int16) (src[i] + offset), i < n, n even: 4 values per LDR, two
 * SXTB16 (bytes 0 and 2, bytes 1 and 3), two SADD16 and the two halfword packs that put them
 * back in order (PKHBT, PKHTB). */
static inline void widen_run(int32_t *d, const int8_t *src, int32_t n, int32_t offset)
{
    const int32_t offsets = tx_pair(offset, offset);
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t quads = n / 4, v, e, o;
    if (quads > 0) {
        __asm__ volatile("1:\n\t"
                         "ldr    %[v], [%[src]], #4\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[o], %[v], ror #8\n\t"
                         "sadd16 %[e], %[e], %[off]\n\t"
                         "sadd16 %[o], %[o], %[off]\n\t"
                         "pkhbt  %[v], %[e], %[o], lsl #16\n\t"
                         "pkhtb  %[o], %[o], %[e], asr #16\n\t"
                         "strd   %[v], %[o], [%[d]], #8\n\t"
                         "subs   %[q], %[q], #1\n\t"
                         "bne    1b\n\t"
                         : [src] "+r"(src), [d] "+r"(d), [q] "+r"(quads), [v] "=&r"(v), [e] "=&r"(e), [o] "=&r"(o)
                         : [off] "r"(offsets)
                         : "cc", "memory");
    }
    n %= 4;
#else
    for (; n >= 4; n -= 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        const uint32_t e = (uint32_t)tx_sadd16(tx_sxtb16_even((int32_t)v), offsets); /* (x0, x2) */
        const uint32_t o = (uint32_t)tx_sadd16(tx_sxtb16_odd((int32_t)v), offsets);  /* (x1, x3) */
        d[0] = (int32_t)((e & 0xFFFFu) | (o << 16));                                 /* (x0, x1) */
        d[1] = (int32_t)((e >> 16) | (o & 0xFFFF0000u));                              /* (x2, x3) */
        d += 2;
        src += 4;
    }
#endif
    if (n > 0) {
        d[0] = tx_pair(src[0] + offset, src[1] + offset);
    }
}

/* Widen row fy of the padded input (fy - pad_top of the input, zeros outside it) into dst:
 * frame_w pixels of frame_c int16 values, as pair words. */
static void widen_row(const rows_geometry *g, const int8_t *in_b, int32_t fy, int32_t *dst)
{
    const int32_t iy = fy - g->pad_top, in_c = g->in_c, half_c = g->frame_c / 2, offset = g->input_offset;
    const int32_t words = g->frame_w * half_c;
    if (iy < 0 || iy >= g->in_h) {
        zero_words(dst, words);
        return;
    }
    const int32_t left = g->pad_left * half_c, inside = g->in_w * half_c;
    zero_words(dst, left);
    zero_words(dst + left + inside, words - left - inside);
    const int8_t *src = in_b + iy * g->in_w * in_c;
    int32_t *px = dst + left;
    if (2 * half_c == in_c) { /* the row's pixels are contiguous in both */
        widen_run(px, src, g->in_w * in_c, offset);
        return;
    }
    if (in_c == 3) { /* RGB: (x0, x1), (x2, 0) */
        for (int32_t x = 0; x < g->in_w; ++x) {
            px[0] = tx_pair(src[0] + offset, src[1] + offset);
            px[1] = tx_pair(src[2] + offset, 0);
            src += 3;
            px += 2;
        }
        return;
    }
    /* in_c = frame_c - 1 or frame_c - 2 (conv2d.py ROWS_IN_C): pairs, then (last, 0), or a zero word */
    const int32_t z = opaque_zero();
    for (int32_t x = 0; x < g->in_w; ++x) {
        int32_t c = 0, w = 0;
        for (; c + 1 < in_c; c += 2) {
            px[w++] = tx_pair(src[c] + offset, src[c + 1] + offset);
        }
        px[w++] = c < in_c ? tx_pair(src[c] + offset, 0) : z;
        if (w < half_c) {
            px[w] = z;
        }
        src += in_c;
        px += half_c;
    }
}

/* The output of sum acc with {m, c, r} record q, clamped to [act_min, act_max]. */
static inline int8_t out_mr(int32_t acc, const int32_t *q, int32_t act_min, int32_t act_max)
{
    return (int8_t)tx_clamp(tx_mr(acc, q[0], q[1], q[2]), act_min, act_max);
}

/* The pair word (a[0], a[1]) of two int16 values. */
static inline int32_t pair_at(const int16_t *a)
{
    return tx_pair(a[0], a[1]);
}

/* The C block (block_c) is compiled unless every layer of the library takes an asm loop on this core:
 * TX_CONV2D_ROWS_ASM_ONLY, set in tx_common.h by the generator (flash). */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__) && defined(TX_CONV2D_ROWS_ASM_ONLY)
#define TX_ROWS_C_BLOCK 0
#else
#define TX_ROWS_C_BLOCK 1
#endif

#if TX_ROWS_C_BLOCK
/* One block in C: three pixels whose kernel row ky starts at rows[ky], every channel pair;
 * outputs to d[px * out_c + ch]. */
static void block_c(const rows_geometry *g, const int16_t *const *rows, const int32_t *w, const int32_t *records,
                    int8_t *d, int32_t act_min, int32_t act_max)
{
    const int32_t fc = g->frame_c;
    for (int32_t ch = 0; ch < g->out_c; ch += 2) {
        const int32_t *q0 = records + RECORD_WORDS * ch, *q1 = q0 + RECORD_WORDS; /* {bias, m, c, r} */
        int32_t s0[3] = {q0[0], q0[0], q0[0]}, s1[3] = {q1[0], q1[0], q1[0]};
        for (int32_t ky = 0; ky < g->k_h; ++ky) {
            const int16_t *a = rows[ky];
            for (int32_t k = 0; k < g->groups; ++k) {
                const int32_t e0 = tx_sxtb16_even(w[0]), o0 = tx_sxtb16_odd(w[0]);
                const int32_t e1 = tx_sxtb16_even(w[1]), o1 = tx_sxtb16_odd(w[1]);
                for (int32_t i = 0; i < 3; ++i) {
                    const int32_t lo = pair_at(a + i * fc), hi = pair_at(a + i * fc + 2);
                    s0[i] = tx_smlad(hi, o0, tx_smlad(lo, e0, s0[i]));
                    s1[i] = tx_smlad(hi, o1, tx_smlad(lo, e1, s1[i]));
                }
                a += 4;
                w += 2;
            }
            if (g->half) {
                const int32_t e = tx_sxtb16_even(w[0]), o = tx_sxtb16_odd(w[0]); /* channel 0, channel 1 */
                for (int32_t i = 0; i < 3; ++i) {
                    const int32_t v = pair_at(a + i * fc);
                    s0[i] = tx_smlad(v, e, s0[i]);
                    s1[i] = tx_smlad(v, o, s1[i]);
                }
                w += 1;
            }
        }
        for (int32_t i = 0; i < 3; ++i) {
            d[i * g->out_c + ch] = out_mr(s0[i], q0 + 1, act_min, act_max);
            d[i * g->out_c + ch + 1] = out_mr(s1[i], q1 + 1, act_min, act_max);
        }
    }
}
#endif

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define TX_ROWS_STR(x) #x
#define TX_ROWS_XSTR(x) TX_ROWS_STR(x)

/* GROUP(P): 4 values of the kernel row, three pixels P bytes apart, two channels: 1 LDRD of
 * two weight words, 4 SXTB16, 3 LDRD of activations, 12 SMLAD (24 MACs). */
#define TX_ROWS_GROUP(P) \
    "ldrd   %[u0], %[u1], [%[w]], #8\n\t" \
    "ldrd   %[x0], %[x1], [%[a]], #8\n\t" \
    "sxtb16 %[e0], %[u0]\n\t" \
    "sxtb16 %[u0], %[u0], ror #8\n\t" \
    "sxtb16 %[e1], %[u1]\n\t" \
    "sxtb16 %[u1], %[u1], ror #8\n\t" \
    "smlad  %[c00], %[x0], %[e0], %[c00]\n\t" \
    "smlad  %[c00], %[x1], %[u0], %[c00]\n\t" \
    "smlad  %[c10], %[x0], %[e1], %[c10]\n\t" \
    "smlad  %[c10], %[x1], %[u1], %[c10]\n\t" \
    "ldrd   %[x0], %[x1], [%[a], #" TX_ROWS_XSTR(P) "-8]\n\t" \
    "smlad  %[c01], %[x0], %[e0], %[c01]\n\t" \
    "smlad  %[c01], %[x1], %[u0], %[c01]\n\t" \
    "smlad  %[c11], %[x0], %[e1], %[c11]\n\t" \
    "smlad  %[c11], %[x1], %[u1], %[c11]\n\t" \
    "ldrd   %[x0], %[x1], [%[a], #2*" TX_ROWS_XSTR(P) "-8]\n\t" \
    "smlad  %[c02], %[x0], %[e0], %[c02]\n\t" \
    "smlad  %[c02], %[x1], %[u0], %[c02]\n\t" \
    "smlad  %[c12], %[x0], %[e1], %[c12]\n\t" \
    "smlad  %[c12], %[x1], %[u1], %[c12]\n\t"

/* HALF(P): the last two values of the kernel row: one weight word for both channels, 2 SXTB16,
 * 3 LDR, 6 SMLAD (12 MACs). */
#define TX_ROWS_HALF(P) \
    "ldr    %[u0], [%[w]], #4\n\t" \
    "ldr    %[x0], [%[a]]\n\t" \
    "ldr    %[x1], [%[a], #" TX_ROWS_XSTR(P) "]\n\t" \
    "sxtb16 %[e0], %[u0]\n\t" \
    "sxtb16 %[u0], %[u0], ror #8\n\t" \
    "smlad  %[c00], %[x0], %[e0], %[c00]\n\t" \
    "smlad  %[c10], %[x0], %[u0], %[c10]\n\t" \
    "smlad  %[c01], %[x1], %[e0], %[c01]\n\t" \
    "smlad  %[c11], %[x1], %[u0], %[c11]\n\t" \
    "ldr    %[x0], [%[a], #2*" TX_ROWS_XSTR(P) "]\n\t" \
    "smlad  %[c02], %[x0], %[e0], %[c02]\n\t" \
    "smlad  %[c12], %[x0], %[u0], %[c12]\n\t"

/* OUT(c, addr): the requantized sum c (record {m, c, r} in x0, x1, u0; u1 scratch), saturated, to
 * addr: tx_mr with SMMLAR, which adds c to SMMULR's result in the same instruction, and the
 * rounding's -[v < 0] taken as -[acc < 0] (they differ only when v = 0, where both give the zero
 * point: (c - 1) >> r = c >> r for c = 2^(r-1) + z * 2^r). */
#define TX_ROWS_OUT(c, addr) \
    "lsl    %[u1], %[" c "], #1\n\t" \
    "smmlar %[" c "], %[u1], %[x0], %[x1]\n\t" \
    "add    %[" c "], %[" c "], %[u1], asr #31\n\t" \
    "asr    %[" c "], %[" c "], %[u0]\n\t" \
    "ssat   %[" c "], #8, %[" c "]\n\t" \
    "strb   %[" c "], " addr "\n\t"

/* ROW(P, G, H): one kernel row from a: G groups, then a last pair when H. */
#define TX_ROWS_ROW(P, G, H) ".rept " #G "\n\t" TX_ROWS_GROUP(P) ".endr\n\t.if " #H "\n\t" TX_ROWS_HALF(P) ".endif\n\t"

/* `blocks` blocks of one output row, each every channel pair, for a 1x1 (ROWS = ROW once) or 3x3
 * (three times) kernel with no activation to apply: per pair the sums from the channels' biases
 * (records q: {bias, m, c, r} per channel), each kernel row from its pointer (r0, r1, r2), then the
 * six outputs (to d, out_c = stride bytes between pixels), until q reaches q_end; per block the
 * weights and records start again, the outputs step on by two more pixels and the row pointers by
 * three pixels (NEXT). 14 registers: the loop state lives in memory. */
#define TX_ROWS_BLOCKS(NAME, P, G, H, ROWS, NEXT) \
static void NAME(const int16_t *r0, const int16_t *r1, const int16_t *r2, const int32_t *w0, const int32_t *q0, \
                 const int32_t *q_end, int8_t *d, int32_t stride, int32_t blocks) \
{ \
    int32_t c00, c01, c02, c10, c11, c12, x0, x1, u0, u1, e0, e1; \
    const int16_t *a; \
    const int32_t *w, *q; \
    __asm__ volatile("0:\n\t" \
                     "ldr    %[w], %[w0]\n\t" \
                     "ldr    %[x0], %[q0]\n\t" \
                     "str    %[x0], %[q]\n\t" \
                     "1:\n\t" \
                     "ldr    %[e0], %[q]\n\t" \
                     "ldr    %[c00], [%[e0]]\n\t" \
                     "ldr    %[c10], [%[e0], #16]\n\t" \
                     "mov    %[c01], %[c00]\n\t" \
                     "mov    %[c02], %[c00]\n\t" \
                     "mov    %[c11], %[c10]\n\t" \
                     "mov    %[c12], %[c10]\n\t" \
                     ROWS \
                     "ldr    %[e0], %[q]\n\t" \
                     "ldr    %[e1], %[d]\n\t" \
                     "ldr    %[a], %[stride]\n\t" \
                     "ldrd   %[x0], %[x1], [%[e0], #4]\n\t" \
                     "ldr    %[u0], [%[e0], #12]\n\t" \
                     TX_ROWS_OUT("c00", "[%[e1]]") \
                     TX_ROWS_OUT("c01", "[%[e1], %[a]]") \
                     TX_ROWS_OUT("c02", "[%[e1], %[a], lsl #1]") \
                     "ldrd   %[x0], %[x1], [%[e0], #20]\n\t" \
                     "ldr    %[u0], [%[e0], #28]\n\t" \
                     "add    %[e0], %[e0], #32\n\t" \
                     "str    %[e0], %[q]\n\t" \
                     "add    %[e1], %[e1], #1\n\t" \
                     TX_ROWS_OUT("c10", "[%[e1]]") \
                     TX_ROWS_OUT("c11", "[%[e1], %[a]]") \
                     TX_ROWS_OUT("c12", "[%[e1], %[a], lsl #1]") \
                     "add    %[e1], %[e1], #1\n\t" \
                     "str    %[e1], %[d]\n\t" \
                     "ldr    %[x1], %[q_end]\n\t" \
                     "cmp    %[e0], %[x1]\n\t" \
                     "bne    1b\n\t" \
                     "add    %[e1], %[e1], %[a], lsl #1\n\t" \
                     "str    %[e1], %[d]\n\t" \
                     NEXT \
                     "ldr    %[x0], %[blocks]\n\t" \
                     "subs   %[x0], %[x0], #1\n\t" \
                     "str    %[x0], %[blocks]\n\t" \
                     "bne    0b\n\t" \
                     : [a] "=&r"(a), [w] "=&r"(w), [c00] "=&r"(c00), [c01] "=&r"(c01), [c02] "=&r"(c02), \
                       [c10] "=&r"(c10), [c11] "=&r"(c11), [c12] "=&r"(c12), [x0] "=&r"(x0), [x1] "=&r"(x1), \
                       [u0] "=&r"(u0), [u1] "=&r"(u1), [e0] "=&r"(e0), [e1] "=&r"(e1), [q] "=m"(q), \
                       [d] "+m"(d), [blocks] "+m"(blocks), [r0] "+m"(r0), [r1] "+m"(r1), [r2] "+m"(r2) \
                     : [w0] "m"(w0), [q0] "m"(q0), [q_end] "m"(q_end), [stride] "m"(stride) \
                     : "cc", "memory"); \
}

#define TX_ROWS_K1(P, G, H) "ldr    %[a], %[r0]\n\t" TX_ROWS_ROW(P, G, H)
#define TX_ROWS_K3(P, G, H) \
    "ldr    %[a], %[r0]\n\t" TX_ROWS_ROW(P, G, H) "ldr    %[a], %[r1]\n\t" TX_ROWS_ROW(P, G, H) \
    "ldr    %[a], %[r2]\n\t" TX_ROWS_ROW(P, G, H)
/* NEXT(r, P): row pointer r three pixels (3 * P bytes) on. */
#define TX_ROWS_NEXT(r, P) \
    "ldr    %[x0], %[" r "]\n\t" \
    "add    %[x0], %[x0], #3*" TX_ROWS_XSTR(P) "\n\t" \
    "str    %[x0], %[" r "]\n\t"

/* 1x1 and 3x3 kernels over 2-3 (frame_c 4: a kernel row of 4 or 12 values) and 5-6 channels
 * (frame_c 6: 6 or 18 values). */
/* A library leaves out the loops none of its layers takes (TX_CONV2D_ROWS_NO_C<frame_c>_K<k>, set in
 * tx_common.h by the generator): flash. */
#if !defined(TX_CONV2D_ROWS_NO_C4_K1)
TX_ROWS_BLOCKS(blocks_c4_k1, 8, 1, 0, TX_ROWS_K1(8, 1, 0), TX_ROWS_NEXT("r0", 8))
#endif
#if !defined(TX_CONV2D_ROWS_NO_C4_K3)
TX_ROWS_BLOCKS(blocks_c4_k3, 8, 3, 0, TX_ROWS_K3(8, 3, 0),
               TX_ROWS_NEXT("r0", 8) TX_ROWS_NEXT("r1", 8) TX_ROWS_NEXT("r2", 8))
#endif
#if !defined(TX_CONV2D_ROWS_NO_C6_K1)
TX_ROWS_BLOCKS(blocks_c6_k1, 12, 1, 1, TX_ROWS_K1(12, 1, 1), TX_ROWS_NEXT("r0", 12))
#endif
#if !defined(TX_CONV2D_ROWS_NO_C6_K3)
TX_ROWS_BLOCKS(blocks_c6_k3, 12, 4, 1, TX_ROWS_K3(12, 4, 1),
               TX_ROWS_NEXT("r0", 12) TX_ROWS_NEXT("r1", 12) TX_ROWS_NEXT("r2", 12))
#endif
#undef TX_ROWS_NEXT
#undef TX_ROWS_K3
#undef TX_ROWS_K1
#undef TX_ROWS_BLOCKS
#undef TX_ROWS_ROW
#undef TX_ROWS_OUT
#undef TX_ROWS_HALF
#undef TX_ROWS_GROUP

typedef void (*blocks_fn)(const int16_t *, const int16_t *, const int16_t *, const int32_t *, const int32_t *,
                          const int32_t *, int8_t *, int32_t, int32_t);

/* The asm loop for a 1x1 or 3x3 kernel over frame_c 4 or 6, or NULL (the C loop). */
static blocks_fn blocks_for(int32_t frame_c, int32_t k_h, int32_t k_w)
{
#if !defined(TX_CONV2D_ROWS_NO_C4_K1)
    if (frame_c == 4 && k_h == 1 && k_w == 1) {
        return blocks_c4_k1;
    }
#endif
#if !defined(TX_CONV2D_ROWS_NO_C4_K3)
    if (frame_c == 4 && k_h == 3 && k_w == 3) {
        return blocks_c4_k3;
    }
#endif
#if !defined(TX_CONV2D_ROWS_NO_C6_K1)
    if (frame_c == 6 && k_h == 1 && k_w == 1) {
        return blocks_c6_k1;
    }
#endif
#if !defined(TX_CONV2D_ROWS_NO_C6_K3)
    if (frame_c == 6 && k_h == 3 && k_w == 3) {
        return blocks_c6_k3;
    }
#endif
    (void)frame_c;
    (void)k_h;
    (void)k_w;
    return 0;
}
#endif

void tx_conv2d_rows_s8(const tx_conv2d_rows_s8_params *p, const int8_t *in, int8_t *out, int8_t *scratch)
{
    const int32_t k_h = p->k_h, out_c = p->out_c, out_w = p->out_w, out_h = p->out_h, stride_h = p->stride_h;
    const int32_t act_min = p->act_min, act_max = p->act_max, row_values = p->k_w * p->frame_c;
    const rows_geometry g = {p->in_h, p->in_w, p->in_c, k_h, p->k_w, p->pad_top, p->pad_left, p->frame_c,
                             p->frame_w, p->input_offset, out_c, row_values / 4, (row_values % 4) / 2};
    const int16_t *rows[TX_CONV2D_ROWS_MAX_K_H];  /* the block's kernel rows */
    int32_t slot_row[TX_CONV2D_ROWS_MAX_K_H];      /* the padded input row each slot holds */
    int32_t *records = (int32_t *)(void *)scratch;
    int8_t *tmp = scratch + 4 * RECORD_WORDS * out_c;
    int16_t *frame = (int16_t *)(void *)(tmp + 4 * ((3 * out_c + 3) / 4));
    const int32_t slot_values = p->frame_w * p->frame_c;
    const int32_t *const weights = p->weights;
    for (int32_t c = 0; c < out_c; ++c) { /* {bias, m, c, r} */
        records[RECORD_WORDS * c] = p->bias[c];
        tx_mr_record(p->mult[c], p->shift[c], p->output_offset, records + RECORD_WORDS * c + 1);
    }
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
    const blocks_fn fast = act_min == -128 && act_max == 127 ? blocks_for(g.frame_c, k_h, g.k_w) : 0;
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + b * g.in_h * g.in_w * g.in_c;
        int8_t *out_b = out + b * out_h * out_w * out_c;
        for (int32_t s = 0; s < k_h; ++s) {
            slot_row[s] = -1; /* no input row widened yet in this batch */
        }
        for (int32_t y = 0; y < out_h; ++y) {
            const int32_t fy0 = y * stride_h;
            for (int32_t ky = 0; ky < k_h; ++ky) {
                const int32_t s = (fy0 + ky) % k_h;
                if (slot_row[s] != fy0 + ky) {
                    widen_row(&g, in_b, fy0 + ky, (int32_t *)(void *)(frame + s * slot_values));
                    slot_row[s] = fy0 + ky;
                }
                rows[ky] = frame + s * slot_values;
            }
            int32_t x = 0; /* the next block's first output pixel */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
            if (fast && out_w >= 3) { /* the row's whole blocks in one call */
                const int32_t whole = out_w / 3;
                fast(rows[0], rows[k_h / 2], rows[k_h - 1], weights, records, records + RECORD_WORDS * out_c,
                     out_b + y * out_w * out_c, out_c, whole);
                x = 3 * whole;
                for (int32_t ky = 0; ky < k_h; ++ky) {
                    rows[ky] += x * g.frame_c;
                }
            }
#endif
            for (; x < out_w; x += 3) {
                const int32_t n = out_w - x < 3 ? out_w - x : 3; /* past the row's end: sums unused */
                int8_t *dst = out_b + (y * out_w + x) * out_c;
                int8_t *d = n == 3 ? dst : tmp;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
                if (fast) {
                    fast(rows[0], rows[k_h / 2], rows[k_h - 1], weights, records, records + RECORD_WORDS * out_c, d,
                         out_c, 1);
                }
#if TX_ROWS_C_BLOCK
                else {
                    block_c(&g, rows, weights, records, d, act_min, act_max);
                }
#endif
#else
                block_c(&g, rows, weights, records, d, act_min, act_max);
#endif
                for (int32_t i = 0; i < n * out_c && n < 3; ++i) {
                    dst[i] = tmp[i];
                }
                for (int32_t ky = 0; ky < k_h; ++ky) {
                    rows[ky] += 3 * g.frame_c; /* the next block's windows */
                }
            }
        }
    }
}
