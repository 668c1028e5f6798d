#include "tx_policy.h"

/* See tx_policy.h. */

/* LN[i] = round(2^16 ln(1 + i / 64)), i = 0..64: ln of a mantissa in [1, 2]
 * (the same numbers as codegen/policies/tables.py ln_table(); a test checks). */
static const uint16_t tx_policy_ln_table[65] = {
    0, 1016, 2017, 3002, 3973, 4930, 5873, 6802, 7719, 8623,
    9515, 10394, 11262, 12119, 12965, 13800, 14624, 15438, 16242, 17037,
    17821, 18597, 19364, 20121, 20870, 21611, 22343, 23067, 23783, 24492,
    25193, 25886, 26573, 27252, 27924, 28589, 29248, 29900, 30546, 31185,
    31818, 32445, 33067, 33682, 34292, 34896, 35494, 36087, 36675, 37258,
    37835, 38407, 38975, 39537, 40095, 40648, 41196, 41740, 42280, 42815,
    43345, 43872, 44394, 44912, 45426,
};

int tx_policy_argmax_s8(const int8_t *q, int n)
{
    int best = 0;
    for (int c = 1; c < n; c++) {
        if (q[c] > q[best]) {
            best = c;
        }
    }
    return best;
}

int tx_policy_max_s8(const int8_t *q, int n)
{
    int best = q[0];
    for (int c = 1; c < n; c++) {
        if (q[c] > best) {
            best = q[c];
        }
    }
    return best;
}

int tx_policy_top2_gap_s8(const int8_t *q, int n)
{
    int first = q[0] > q[1] ? q[0] : q[1];
    int second = q[0] > q[1] ? q[1] : q[0];
    for (int c = 2; c < n; c++) {
        if (q[c] > first) {
            second = first;
            first = q[c];
        } else if (q[c] > second) {
            second = q[c];
        }
    }
    return first - second;
}

uint32_t tx_policy_exp_sum_s8(const int8_t *q, int n, const uint16_t *exp_table, int table_len)
{
    int q_max = tx_policy_max_s8(q, n);
    uint32_t sum = 0;
    for (int c = 0; c < n; c++) {
        int d = q_max - q[c];
        if (d < table_len) {
            sum += exp_table[d];
        }
    }
    return sum;
}

/*
 * Write x = 2^e * (m / 2^k_bits) with the mantissa m in [2^k_bits, 2^(k_bits+1));
 * then ln(x / 2^k_bits) = (e - k_bits) ln 2 + ln(m / 2^k_bits). The top 6 bits
 * of m below its leading one index the ln table; the bits under them
 * interpolate linearly between two entries.
 */
int32_t tx_policy_ln_q16(uint32_t x, int k_bits)
{
    int e = k_bits;
    while ((x >> (e + 1)) != 0u) {
        e++;
    }
    uint32_t m = x >> (e - k_bits);
    int frac_bits = k_bits - TX_POLICY_LN_INDEX_BITS;
    uint32_t i = (m >> frac_bits) - (1u << TX_POLICY_LN_INDEX_BITS);
    int32_t frac = (int32_t)(m & ((1u << frac_bits) - 1u));
    int32_t lo = tx_policy_ln_table[i];
    int32_t hi = tx_policy_ln_table[i + 1u];
    return (e - k_bits) * TX_POLICY_LN2_Q16 + lo + (((hi - lo) * frac) >> frac_bits);
}

int tx_policy_entropy_at_most_s8(const int8_t *q, int n, const uint16_t *exp_table, const uint16_t *xexp_table,
                                 int table_len, int k_bits, int32_t h_q16)
{
    int q_max = tx_policy_max_s8(q, n);
    uint32_t exp_sum = 0;
    uint32_t xexp_sum = 0;
    for (int c = 0; c < n; c++) {
        int d = q_max - q[c];
        if (d < table_len) {
            exp_sum += exp_table[d];
            xexp_sum += xexp_table[d];
        }
    }
    int32_t ln_s = tx_policy_ln_q16(exp_sum, k_bits);
    return ((int64_t)xexp_sum << TX_POLICY_LN_FRAC_BITS) <= (int64_t)exp_sum * (int64_t)(h_q16 - ln_s);
}

uint32_t tx_policy_distance2_s8(const int8_t *a, const int8_t *b, int n)
{
    uint32_t sum = 0;
    for (int c = 0; c < n; c++) {
        int32_t diff = (int32_t)a[c] - (int32_t)b[c];
        sum += (uint32_t)(diff * diff);
    }
    return sum;
}

int tx_policy_patience_step(tx_policy_patience_state *state, int k, int label, int patience)
{
    if (k == 0 || label != state->previous_label) {
        state->agreements = 0; /* stage 0 starts every inference */
    } else {
        state->agreements++;
    }
    state->previous_label = label;
    return state->agreements >= patience;
}

void tx_policy_patience_reset(tx_policy_patience_state *state)
{
    state->previous_label = 0;
    state->agreements = 0;
}

int tx_policy_difference_early(tx_policy_difference_state *state, const int8_t *q, int n, uint32_t dist2_max)
{
    if (state->has_reference && state->last_label >= 0
        && tx_policy_distance2_s8(q, state->reference, n) <= dist2_max) {
        return 1; /* close to the reference: reuse the last decided label */
    }
    for (int c = 0; c < n; c++) {
        state->reference[c] = q[c];
    }
    state->has_reference = 1;
    return 0;
}

void tx_policy_difference_final(tx_policy_difference_state *state, int label)
{
    state->last_label = label;
}

void tx_policy_difference_reset(tx_policy_difference_state *state)
{
    state->has_reference = 0;
    state->last_label = -1;
}

int tx_policy_temporal_patience_early(tx_policy_temporal_patience_state *state, int label, int patience)
{
    state->early_label = label;
    return state->last_label >= 0 && state->streak >= patience && label == state->last_label;
}

void tx_policy_temporal_patience_final(tx_policy_temporal_patience_state *state, int decided, int patience)
{
    if (state->early_label != decided) {
        state->streak = 0;
    } else if (state->early_label == state->last_label) {
        if (state->streak < patience) {
            state->streak++;
        }
    } else {
        state->streak = 1; /* exit 0 agreed, but on a new label: start counting again */
    }
    state->last_label = decided;
}

void tx_policy_temporal_patience_reset(tx_policy_temporal_patience_state *state)
{
    state->last_label = -1;
    state->streak = 0;
    state->early_label = -1;
}
