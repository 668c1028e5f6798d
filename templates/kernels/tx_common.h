/*
 * tx_common.h - fixed-point helpers shared by the tinyexit int8 kernels.
 *
 * Every helper reproduces, bit for bit, the integer arithmetic of TensorFlow
 * Lite Micro's reference kernels as TFLM is built by default (double rounding:
 * TFLITE_SINGLE_ROUNDING is not defined). All are `static inline` so that each
 * kernel .c file is self-contained and the compiler can fold constants.
 *
 * Assumptions about the C implementation (true for gcc and clang on every
 * target tinyexit supports): int32_t/int64_t are two's complement and `>>` on
 * a negative signed value is an arithmetic shift.
 *
 * Contributors: append new helpers at the end of this file.
 */
#ifndef TX_COMMON_H
#define TX_COMMON_H

#include <stdint.h>

/*
 * tx_sat_rounding_doubling_high_mul: gemmlowp's
 * SaturatingRoundingDoublingHighMul. Returns the high 32 bits of 2*a*b,
 * rounded to nearest with ties away from zero; the one overflowing case
 * (a == b == INT32_MIN) saturates to INT32_MAX.
 *
 * gemmlowp divides the nudged 64-bit product by 2^31 with C division, which
 * truncates toward zero; the shift below adds 2^31 - 1 to negative values
 * first, which is the same thing without a division instruction.
 */
static inline int32_t tx_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    int64_t sum = ab + nudge;
    if (sum < 0) {
        sum += ((int64_t)1 << 31) - 1;
    }
    return (int32_t)(sum >> 31);
}

/*
 * tx_rounding_divide_by_pot: gemmlowp's RoundingDivideByPOT. x / 2^exponent
 * rounded to nearest, ties away from zero. exponent in [0, 31].
 */
static inline int32_t tx_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * tx_requantize: TFLM's MultiplyByQuantizedMultiplier(int32 x, multiplier,
 * shift) with double rounding: x * multiplier * 2^(shift - 31).
 *
 * multiplier: Q31 in [2^30, 2^31 - 1], or 0 (QuantizeMultiplier output).
 * shift: exponent in [-31, 30]; > 0 shifts left before the multiply, < 0
 * rounds right after it. TFLM computes the left shift as x * (1 << shift) in
 * int32; the unsigned shift here wraps the same way without undefined
 * behaviour.
 */
static inline int32_t tx_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return tx_rounding_divide_by_pot(tx_sat_rounding_doubling_high_mul(shifted, multiplier), right);
}

/* tx_clamp: min(max(x, lo), hi), as TFLM applies fused activations. */
static inline int32_t tx_clamp(int32_t x, int32_t lo, int32_t hi)
{
    if (x < lo) {
        x = lo;
    }
    if (x > hi) {
        x = hi;
    }
    return x;
}

/* ---- gemmlowp fixed-point helpers for SOFTMAX (appended by the softmax/logistic/mean kernels) ---- */

/* tx_clz32: count of leading zero bits of x; x must not be 0. */
static inline int32_t tx_clz32(uint32_t x)
{
#if defined(__GNUC__)
    return (int32_t)__builtin_clz(x);
#else
    int32_t n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/*
 * tx_saturating_left_shift: gemmlowp's SaturatingRoundingMultiplyByPOT with a
 * positive exponent in [1, 30]: x * 2^exponent, saturated to int32. Like
 * gemmlowp, anything below -(2^(31 - exponent) - 1) becomes INT32_MIN.
 */
static inline int32_t tx_saturating_left_shift(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* tx_rounding_half_sum: gemmlowp's RoundingHalfSum: (a + b) / 2 rounded away from zero. */
static inline int32_t tx_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t biased = sum >= 0 ? sum + 1 : sum - 1;
    /* C division truncates toward zero; so does this shift-based form. */
    return (int32_t)(biased >= 0 ? biased >> 1 : -((-biased) >> 1));
}

/*
 * tx_one_over_one_plus_x: gemmlowp's one_over_one_plus_x_for_x_in_0_1. a is
 * x in [0, 1) as Q0.31; returns 1 / (1 + x) as Q0.31, from three
 * Newton-Raphson steps on Q2.29 values (constants 48/17 and -32/17).
 */
static inline int32_t tx_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = tx_rounding_half_sum(a, INT32_MAX);
    const int32_t one_q2 = 1 << 29;
    int32_t x = (int32_t)((uint32_t)1515870810
                          + (uint32_t)tx_sat_rounding_doubling_high_mul(half_denominator, -1010580540));
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = tx_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = (int32_t)((uint32_t)one_q2 - (uint32_t)half_denominator_times_x);
        const int32_t step = tx_saturating_left_shift(tx_sat_rounding_doubling_high_mul(x, one_minus), 2);
        x = (int32_t)((uint32_t)x + (uint32_t)step);
    }
    /* Q2.29 -> Q1.30 is free (same bits); Q1.30 -> Q0.31 is a saturating doubling. */
    return tx_saturating_left_shift(x, 1);
}

/* ---- fast-path helpers for the GEMM-style kernels (tx_conv2d_gemm_s8, ...) ---- */

/*
 * tx_requantize_fast: the same value as tx_requantize for every int32 x and
 * every multiplier QuantizeMultiplier produces (never INT32_MIN, so the
 * saturating case cannot occur), in fewer instructions: gemmlowp's
 * "add a nudge of +-2^30, then divide by 2^31 truncating toward zero" equals
 * floor((a*b + 2^30) / 2^31) for either sign of a*b (for a*b < 0 the nudge is
 * 1 - 2^30 and truncation adds 2^31 - 1, which sum to the same +2^30). Ties
 * therefore round toward +infinity in both, e.g. -0.5 -> 0.
 */
static inline int32_t tx_requantize_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    const int32_t high = (int32_t)(((int64_t)shifted * multiplier + ((int64_t)1 << 30)) >> 31);
    return tx_rounding_divide_by_pot(high, right);
}

/*
 * tx_requantize_rs: tx_requantize for a right shift r >= 1 (shift = -r), from
 * constants computed at generation time (codegen/ops/gemm.py requant_records):
 * round = 2^30 + 2^(30 + r) and hi_shift = r - 1.
 *
 * TFLM computes v = SRDHM(x, m) = floor((x*m + 2^30) / 2^31) (see
 * tx_requantize_fast), then RoundingDivideByPOT(v, r) =
 * floor((v + 2^(r-1) - [v < 0]) / 2^r). Nested floors of divisions by powers
 * of two combine into one: floor((x*m + 2^30 + 2^(30+r) - [v < 0] * 2^31) / 2^(31+r)),
 * i.e. the high word of that 64-bit sum shifted right by r - 1. v < 0 exactly
 * when x*m + 2^30 < 0; testing x < 0 instead differs only when x*m lies in
 * [-2^30, 0) (m = 2^30 and x = -1, or m = 0), where both forms give 0.
 */
static inline int32_t tx_requantize_rs(int32_t x, int32_t m, int64_t round, int32_t hi_shift)
{
    const int64_t negative = (int64_t)((uint32_t)x >> 31); /* 1 when x < 0 (no branch) */
    const int64_t t = (int64_t)x * m + round - (negative << 31);
    return (int32_t)(t >> 32) >> hi_shift;
}

/*
 * Packed int16 pairs. A "pair word" holds two int16 values: lo in bits 0-15,
 * hi in bits 16-31 (defined arithmetically, so independent of byte order).
 * The GEMM kernels keep weights (generated that way) and widened activations
 * in pair words so that on cores with the DSP extension one SMLAD does two
 * multiply-accumulates; elsewhere the same words are unpacked in plain C.
 */
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* tx_pair: the pair word (lo, hi) of two values in [-32768, 32767]. */
static inline int32_t tx_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)(uint16_t)lo) | ((uint32_t)(uint16_t)hi << 16));
}

/* tx_ssat8: x saturated to [-128, 127], one SSAT on DSP cores (ACLE's __ssat trips -Wsign-conversion). */
static inline int32_t tx_ssat8(int32_t x)
{
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__) && !defined(__clang__)
    return (int32_t)__builtin_arm_ssat(x, 8); /* what ACLE's __ssat expands to, without its cast warning */
#elif defined(__ARM_FEATURE_DSP)
    return __ssat(x, 8);
#else
    return tx_clamp(x, -128, 127);
#endif
}

/*
 * tx_output_rs: the int8 output of an accumulator, TFLM's requantization in
 * one SMLAL, plus the output zero point, clamped to the fused activation's
 * range. q is the channel's record {multiplier, high-word shift, rounding
 * constant low word, high word, pre-shift, negative mask} (codegen/ops/gemm.py
 * requant_records):
 * - right shift r >= 1: tx_requantize_rs (pre-shift 0, mask 0x80000000:
 *   subtract 2^31 when acc < 0);
 * - left shift l >= 0: acc * 2^(l+1) (no overflow: checked at generation
 *   time) times the multiplier plus 2^31, high word: SRDHM(acc << l, m).
 * Callers keep the per-layer values in locals, so that int8 stores cannot
 * force reloads.
 */
#define TX_RECORD_WORDS 6 /* int32 words per channel record */

static inline int8_t tx_output_rs(int32_t acc, const int32_t *q, int32_t output_offset, int32_t act_min,
                                  int32_t act_max)
{
    const int32_t x = (int32_t)((uint32_t)acc << q[4]);
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[3] << 32) | (uint32_t)q[2]);
    const int64_t t = (int64_t)x * q[0] + round - (int64_t)((uint32_t)x & (uint32_t)q[5]);
    return (int8_t)tx_clamp(((int32_t)(t >> 32) >> q[1]) + output_offset, act_min, act_max);
}

/*
 * tx_output_rs2: tx_output_rs for two accumulators of the same channel (two
 * output pixels), written to *out_a and *out_b. The record is read into
 * locals once and both values are computed before either store, so neither
 * int8 store can force the record to be read again. With no activation to
 * apply (the range is all of int8) the clamp is one SSAT on DSP cores.
 */
static inline void tx_output_rs2(int32_t acc_a, int32_t acc_b, const int32_t *q, int8_t *out_a, int8_t *out_b,
                                 int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32_t m = q[0], hi_shift = q[1], pre = q[4];
    const uint32_t mask = (uint32_t)q[5];
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[3] << 32) | (uint32_t)q[2]);
    const int32_t xa = (int32_t)((uint32_t)acc_a << pre), xb = (int32_t)((uint32_t)acc_b << pre);
    const int64_t ta = (int64_t)xa * m + round - (int64_t)((uint32_t)xa & mask);
    const int64_t tb = (int64_t)xb * m + round - (int64_t)((uint32_t)xb & mask);
    const int32_t va = ((int32_t)(ta >> 32) >> hi_shift) + output_offset;
    const int32_t vb = ((int32_t)(tb >> 32) >> hi_shift) + output_offset;
#if defined(__ARM_FEATURE_DSP)
    if (act_min == -128 && act_max == 127) { /* no activation to apply: one SSAT each */
        *out_a = (int8_t)tx_ssat8(va);
        *out_b = (int8_t)tx_ssat8(vb);
        return;
    }
#endif
    *out_a = (int8_t)tx_clamp(va, act_min, act_max);
    *out_b = (int8_t)tx_clamp(vb, act_min, act_max);
}

/* tx_store3: three requantized values (zero point added) clamped to the activation range, to out[0],
 * out[stride] and out[2 * stride]; with no activation to apply, one SSAT each on DSP cores. */
static inline void tx_store3(int32_t va, int32_t vb, int32_t vc, int8_t *out, int32_t stride, int32_t act_min,
                             int32_t act_max)
{
#if defined(__ARM_FEATURE_DSP)
    if (act_min == -128 && act_max == 127) { /* no activation to apply: one SSAT each */
        out[0] = (int8_t)tx_ssat8(va);
        out[stride] = (int8_t)tx_ssat8(vb);
        out[2 * stride] = (int8_t)tx_ssat8(vc);
        return;
    }
#endif
    out[0] = (int8_t)tx_clamp(va, act_min, act_max);
    out[stride] = (int8_t)tx_clamp(vb, act_min, act_max);
    out[2 * stride] = (int8_t)tx_clamp(vc, act_min, act_max);
}

/*
 * tx_output_rs3: tx_output_rs for three accumulators of the same channel (three
 * output pixels), written to out[0], out[stride], out[2 * stride]; as
 * tx_output_rs2, the record is read once and all three values are computed
 * before any store.
 */
static inline void tx_output_rs3(int32_t acc_a, int32_t acc_b, int32_t acc_c, const int32_t *q, int8_t *out,
                                 int32_t stride, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32_t m = q[0], hi_shift = q[1], pre = q[4];
    const uint32_t mask = (uint32_t)q[5];
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[3] << 32) | (uint32_t)q[2]);
    const int32_t xa = (int32_t)((uint32_t)acc_a << pre), xb = (int32_t)((uint32_t)acc_b << pre);
    const int32_t xc = (int32_t)((uint32_t)acc_c << pre);
    const int64_t ta = (int64_t)xa * m + round - (int64_t)((uint32_t)xa & mask);
    const int64_t tb = (int64_t)xb * m + round - (int64_t)((uint32_t)xb & mask);
    const int64_t tc = (int64_t)xc * m + round - (int64_t)((uint32_t)xc & mask);
    const int32_t va = ((int32_t)(ta >> 32) >> hi_shift) + output_offset;
    const int32_t vb = ((int32_t)(tb >> 32) >> hi_shift) + output_offset;
    const int32_t vc = ((int32_t)(tc >> 32) >> hi_shift) + output_offset;
    tx_store3(va, vb, vc, out, stride, act_min, act_max);
}

/*
 * Fast requantization (a layer's `rq_fast` = 1, optimize=size kernels): for a
 * channel whose shift is a right shift r = -shift in [1, 22] (or whose
 * multiplier is 0), and an accumulator with |acc| < 2^30 (both checked at
 * generation time), TFLM's
 *   v = SaturatingRoundingDoublingHighMul(acc, m) = floor((acc*m + 2^30) / 2^31)
 * (for negative products TFLM's nudge 1 - 2^30 and truncating division give
 * the same floor) is one SMMULR of 2*acc and m: floor((2*acc*m + 2^31) / 2^32).
 * RoundingDivideByPOT(v, r) = floor((v + 2^(r-1) - [v < 0]) / 2^r), and adding
 * the output zero point z commutes with the floor when multiplied by 2^r, so
 *   out = (v + (2^(r-1) + z * 2^r) + (v >> 31)) >> r
 * with one per-channel constant c = 2^(r-1) + z * 2^r (|c| < 2^30, so the sum
 * cannot overflow). Record {m, c, r}: TX_MR_WORDS words, tx_mr_record.
 */
#define TX_MR_WORDS 3

/* tx_smmulr: floor((a*b + 2^31) / 2^32) (the SMMULR instruction). */
static inline int32_t tx_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* c + floor((a * b + 2^31) / 2^32): SMMLAR. */
static inline int32_t tx_smmlar(int32_t a, int32_t b, int32_t c)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    return c + (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* The {m, c, r} record of a channel from its multiplier m and shift s (< 0, or m == 0). */
static inline void tx_mr_record(int32_t m, int32_t s, int32_t output_offset, int32_t *q)
{
    const int32_t r = s < 0 ? -s : 1; /* m == 0: any r >= 1 gives the zero point */
    q[0] = m;
    q[1] = (int32_t)(1u << (r - 1)) + output_offset * (int32_t)(1u << r);
    q[2] = r;
}

/* The requantized value plus zero point (before the activation clamp); q: {m, c, r}. */
static inline int32_t tx_mr(int32_t acc, int32_t m, int32_t c, int32_t r)
{
    const int32_t v = tx_smmulr((int32_t)((uint32_t)acc << 1), m);
    return (v + c + (v >> 31)) >> r;
}

/* tx_mr of a sum already doubled (acc2 = 2 * acc), before the clamp: SMMLAR adds the record's c in
 * the multiply, and acc's sign stands in for v = SMMULR(acc2, m)'s. They differ only when acc < 0
 * and v = 0, where (c - 1) >> r and c >> r are both the zero point (c = 2^(r-1) + zp * 2^r, r >= 1). */
static inline int32_t tx_mr2(int32_t acc2, int32_t m, int32_t c, int32_t r)
{
    return (tx_smmlar(acc2, m, c) + (acc2 >> 31)) >> r;
}

/* tx_output_mr3: three accumulators of one channel (three pixels) to out[0], out[stride], out[2 * stride]. */
static inline void tx_output_mr3(int32_t acc_a, int32_t acc_b, int32_t acc_c, const int32_t *q, int8_t *out,
                                 int32_t stride, int32_t act_min, int32_t act_max)
{
    const int32_t m = q[0], c = q[1], r = q[2];
    const int32_t va = tx_mr(acc_a, m, c, r), vb = tx_mr(acc_b, m, c, r), vc = tx_mr(acc_c, m, c, r);
    tx_store3(va, vb, vc, out, stride, act_min, act_max);
}

/* tx_sadd16: the pair word (lo(a) + lo(b), hi(a) + hi(b)) (SADD16; callers keep each sum in int16). */
static inline int32_t tx_sadd16(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP)
    return __sadd16(a, b);
#else
    return tx_pair((int16_t)(uint16_t)(uint32_t)a + (int16_t)(uint16_t)(uint32_t)b, (a >> 16) + (b >> 16));
#endif
}

/* tx_smlad: acc + lo(a) * lo(b) + hi(a) * hi(b) (the SMLAD instruction). */
static inline int32_t tx_smlad(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    return __smlad(a, b, acc);
#else
    return acc + (int32_t)(int16_t)(uint16_t)a * (int16_t)(uint16_t)b + (a >> 16) * (b >> 16);
#endif
}

/*
 * tx_widen4_s8: `groups` groups of 4 int8 values -> 2 pair words per group,
 * each value plus `offset` (|value + offset| <= 255, so no lane overflows).
 * Within a group [x0 x1 x2 x3] the words are (x0, x2) and (x1, x3): the order
 * SXTB16 produces. Weights are stored in the same order (codegen/ops/gemm.py).
 * Group g's two words go to dst[g * step] and dst[g * step + 1].
 */
static inline void tx_widen4_s8(int32_t *dst, int32_t step, const int8_t *src, int32_t groups, int32_t offset)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    /* Per group: LDR, SXTB16 and SXTB16 with ROR #8 (one instruction), two SADD16, STRD. */
    const int32_t offsets = tx_pair(offset, offset);
    const int32_t stride = 4 * step; /* bytes */
    int32_t x, lo, hi;
    for (int32_t g = 0; g < groups; ++g) {
        /* volatile: the stores are the point, and no output is read after the last group. */
        __asm__ volatile("ldr    %[x], [%[src]], #4\n\t"
                         "sxtb16 %[lo], %[x]\n\t"
                         "sxtb16 %[hi], %[x], ror #8\n\t"
                         "sadd16 %[lo], %[lo], %[off]\n\t"
                         "sadd16 %[hi], %[hi], %[off]\n\t"
                         "strd   %[lo], %[hi], [%[dst]]\n\t"
                         "add    %[dst], %[dst], %[stride]\n\t"
                         : [src] "+r"(src), [dst] "+r"(dst), [x] "=&r"(x), [lo] "=&r"(lo), [hi] "=&r"(hi)
                         : [off] "r"(offsets), [stride] "r"(stride)
                         : "memory");
    }
#elif defined(__ARM_FEATURE_DSP)
    const int32_t offsets = tx_pair(offset, offset);
    for (int32_t g = 0; g < groups; ++g) {
        uint32_t x;
        __builtin_memcpy(&x, src, 4);
        src += 4;
        dst[0] = __sadd16(__sxtb16((int32_t)x), offsets);
        dst[1] = __sadd16(__sxtb16((int32_t)((x >> 8) | (x << 24))), offsets); /* ROR #8 */
        dst += step;
    }
#else
    for (int32_t g = 0; g < groups; ++g) {
        dst[0] = tx_pair(src[0] + offset, src[2] + offset);
        dst[1] = tx_pair(src[1] + offset, src[3] + offset);
        src += 4;
        dst += step;
    }
#endif
}


/*
 * tx_sum4_s8: sums[k] += the sum over i < count of src[i * step + k], k = 0..3: four channels of
 * `count` pixels `step` bytes apart (the pooling and MEAN kernels' c4 paths). On DSP cores one
 * SXTAB16 adds two channels into 16-bit lanes, 255 pixels at a time (|lane| <= 255 * 128 < 2^15).
 */
static inline void tx_sum4_s8(const int8_t *src, int32_t count, int32_t step, int32_t sums[4])
{
#if defined(__ARM_FEATURE_DSP)
    while (count > 0) {
        const int32_t n = count < 255 ? count : 255;
        int32_t even = 0, odd = 0; /* (c0, c2), (c1, c3) */
#if defined(__GNUC__)
        int32_t left = n, w;
        __asm__("1:\n\t"
                "ldr     %[w], [%[src]]\n\t"
                "add     %[src], %[src], %[step]\n\t"
                "sxtab16 %[even], %[even], %[w]\n\t"
                "sxtab16 %[odd], %[odd], %[w], ror #8\n\t"
                "subs    %[left], %[left], #1\n\t"
                "bne     1b\n\t"
                : [src] "+r"(src), [even] "+r"(even), [odd] "+r"(odd), [left] "+r"(left), [w] "=&r"(w)
                : [step] "r"(step)
                : "cc", "memory");
#else
        for (int32_t i = 0; i < n; ++i) {
            uint32_t w;
            __builtin_memcpy(&w, src, 4);
            src += step;
            even = __sxtab16(even, (int32_t)w);
            odd = __sxtab16(odd, (int32_t)((w >> 8) | (w << 24))); /* SXTAB16 with ROR #8 */
        }
#endif
        sums[0] += (int16_t)(uint16_t)(uint32_t)even;
        sums[1] += (int16_t)(uint16_t)(uint32_t)odd;
        sums[2] += even >> 16;
        sums[3] += odd >> 16;
        count -= n;
    }
#else
    for (int32_t i = 0; i < count; ++i) {
        for (int32_t k = 0; k < 4; ++k) {
            sums[k] += src[i * step + k];
        }
    }
#endif
}

/* ---- size-optimized variants (optimize=size): int8 weights, compact requantization ---- */

/*
 * TX_W8(p): whether a fast kernel's params p hold int8 weights (optimize=size)
 * or int16 pair words (optimize=speed). The generator defines one of
 * TX_WEIGHTS_INT16_ONLY / TX_WEIGHTS_INT8_ONLY at the top of the library's
 * tx_common.h (codegen/emitter.py), so each library compiles only the layout
 * it uses; without either (the kernel tests) the field decides at run time.
 */
#if defined(TX_WEIGHTS_INT16_ONLY)
#define TX_W8(p) ((void)(p), 0)
#elif defined(TX_WEIGHTS_INT8_ONLY)
#define TX_W8(p) ((void)(p), 1)
#else
#define TX_W8(p) ((p)->w8)
#endif

/*
 * tx_sxtb16_even / tx_sxtb16_odd: the two pair words of a word of 4 packed
 * int8 values b0 | b1 << 8 | b2 << 16 | b3 << 24 (codegen/ops/gemm.py
 * packed_channel_words): (b0, b2) and (b1, b3), SXTB16 and SXTB16 with ROR #8
 * on DSP cores -- the same order as tx_widen4_s8 and the int16 weight layout.
 */
static inline int32_t tx_sxtb16_even(int32_t w)
{
#if defined(__ARM_FEATURE_DSP)
    return __sxtb16(w);
#else
    return tx_pair((int8_t)(uint8_t)((uint32_t)w & 0xFFu), (int8_t)(uint8_t)(((uint32_t)w >> 16) & 0xFFu));
#endif
}

static inline int32_t tx_sxtb16_odd(int32_t w)
{
#if defined(__ARM_FEATURE_DSP)
    return __sxtb16((int32_t)(((uint32_t)w >> 8) | ((uint32_t)w << 24))); /* ROR #8 */
#else
    return tx_pair((int8_t)(uint8_t)(((uint32_t)w >> 8) & 0xFFu), (int8_t)(uint8_t)((uint32_t)w >> 24));
#endif
}

/*
 * tx_output_ms2: tx_output_rs2 from the channel's Q31 multiplier m and shift
 * s (QuantizeMultiplier's, > 0: left) instead of a 6-word record: the record
 * is derived here, as codegen/ops/gemm.py requant_records derives it
 * (right shift r = -s >= 1: pre-shift 0, high-word shift r - 1, rounding
 * 2^30 + 2^(30 + r), mask 0x80000000; left shift l = s >= 0: pre-shift l + 1,
 * rounding 2^31; the generator checks acc * 2^(l+1) cannot overflow). Same
 * results as tx_output_rs2 with that record, for a few more instructions per
 * channel; out_b may be NULL (one pixel).
 */
static inline void tx_output_ms2(int32_t acc_a, int32_t acc_b, int32_t m, int32_t s, int8_t *out_a, int8_t *out_b,
                                 int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32_t right = s < 0;
    const int32_t pre = right ? 0 : s + 1, hi_shift = right ? -s - 1 : 0;
    const uint32_t mask = right ? 0x80000000u : 0u;
    const int64_t round = right ? ((int64_t)1 << 30) + ((int64_t)1 << (30 - s)) : ((int64_t)1 << 31);
    const int32_t xa = (int32_t)((uint32_t)acc_a << pre), xb = (int32_t)((uint32_t)acc_b << pre);
    const int64_t ta = (int64_t)xa * m + round - (int64_t)((uint32_t)xa & mask);
    const int64_t tb = (int64_t)xb * m + round - (int64_t)((uint32_t)xb & mask);
    const int32_t va = ((int32_t)(ta >> 32) >> hi_shift) + output_offset;
    const int32_t vb = ((int32_t)(tb >> 32) >> hi_shift) + output_offset;
    *out_a = (int8_t)tx_clamp(va, act_min, act_max);
    if (out_b) {
        *out_b = (int8_t)tx_clamp(vb, act_min, act_max);
    }
}


/*
 * tx_record_from: the tx_output_rs record of a channel from its multiplier m
 * and shift s, as codegen/ops/gemm.py requant_records builds it (see
 * tx_output_ms2), for kernels that derive records at run time (optimize=size).
 */
static inline void tx_record_from(int32_t m, int32_t s, int32_t *q)
{
    const int32_t right = s < 0;
    const int64_t round = right ? ((int64_t)1 << 30) + ((int64_t)1 << (30 - s)) : ((int64_t)1 << 31);
    q[0] = m;
    q[1] = right ? -s - 1 : 0;
    q[2] = (int32_t)(uint32_t)((uint64_t)round & 0xFFFFFFFFu);
    q[3] = (int32_t)(uint32_t)((uint64_t)round >> 32);
    q[4] = right ? 0 : s + 1;
    q[5] = right ? (int32_t)0x80000000u : 0;
}

#endif /* TX_COMMON_H */
