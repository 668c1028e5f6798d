/* tx_policy: the integer helpers that exit decisions call.
 *
 * A decision reads one exit's int8 logits q[0..n-1]; with the exit's scale s
 * the real logits are z_c = s (q_c - zero_point), and d_c = q_max - q_c is
 * what the tables below are indexed with (the zero point cancels). Every
 * constant and table a decision compares against was computed at generation
 * time by codegen/policies/ from the exit's scale; these functions only add,
 * look up and compare integers: no float, no division, no libm.
 *
 * The generated <prefix>.c holds each policy's constants and tables and the
 * calls (templates/library/decide.c.j2 and the per-kind templates beside it); the
 * numpy replicas the tests compare against live in codegen/policies/.
 * Ties go to the lowest class index, as numpy's argmax does.
 */
#ifndef TX_POLICY_H
#define TX_POLICY_H

#include <stdint.h>

/* Fraction bits of ln values, and index bits of the ln table (65 entries). */
#define TX_POLICY_LN_FRAC_BITS 16
#define TX_POLICY_LN_INDEX_BITS 6
#define TX_POLICY_LN2_Q16 45426 /* round(ln(2) * 2^16) */

/* Index of the largest of q[0..n-1], n >= 1; the lowest index wins a tie. */
int tx_policy_argmax_s8(const int8_t *q, int n);

/* The largest of q[0..n-1], n >= 1. */
int tx_policy_max_s8(const int8_t *q, int n);

/* Largest minus second-largest of q[0..n-1], n >= 2, in quantization steps
 * (0 on a tie at the top): the logit margin is s times this. */
int tx_policy_top2_gap_s8(const int8_t *q, int n);

/* 2^K times the softmax denominator S = sum_c exp(z_c - z_max):
 * sum_c exp_table[q_max - q_c], entries at or past table_len counting as 0.
 * exp_table[d] = round(2^K exp(-s d)); the sum is at most n 2^K <= 2^30. */
uint32_t tx_policy_exp_sum_s8(const int8_t *q, int n, const uint16_t *exp_table, int table_len);

/* ln(x / 2^k_bits) in Q16 for x >= 2^k_bits, k_bits in 6..30: a 65-entry
 * table of ln(1 + i/64) with linear interpolation (error below 2^-15). */
int32_t tx_policy_ln_q16(uint32_t x, int k_bits);

/* 1 when the softmax entropy H of q is at most h, else 0.
 * With S = sum_c exp(-s d_c) and A = sum_c s d_c exp(-s d_c), H = A / S + ln S,
 * so H <= h <=> A <= S (h - ln S). In fixed point, with
 * exp_table[d] = round(2^K exp(-s d)) and xexp_table[d] = round(2^K s d exp(-s d))
 * (both table_len entries, 0 beyond) and h, ln in Q16:
 * sum F * 2^16 <= sum E * (h_q16 - ln_q16(sum E)), in 64 bits. */
int tx_policy_entropy_at_most_s8(const int8_t *q, int n, const uint16_t *exp_table, const uint16_t *xexp_table,
                                 int table_len, int k_bits, int32_t h_q16);

/* Squared Euclidean distance sum_c (a_c - b_c)^2 in quantization steps;
 * at most n 255^2, so n < 66052 keeps it in 32 bits. */
uint32_t tx_policy_distance2_s8(const int8_t *a, const int8_t *b, int n);

/* PABEE patience within one inference: call after every exit k = 0, 1, ...
 * with that exit's label; stage 0 restarts the count. */
typedef struct {
    int previous_label; /* label of the previous exit of this inference */
    int agreements;     /* consecutive exits that agreed with the one before */
} tx_policy_patience_state;

/* 1 once `patience` consecutive exits agreed with the exit before them. */
int tx_policy_patience_step(tx_policy_patience_state *state, int k, int label, int patience);
void tx_policy_patience_reset(tx_policy_patience_state *state);

/* Difference detection on exit 0 over a stream of samples. */
typedef struct {
    int8_t *reference;  /* [classes] exit 0's logits of the reference sample (the caller's memory) */
    int has_reference;  /* 0 until the first sample ran to the last exit */
    int last_label;     /* label decided at the last exit of the latest full run, -1 for none */
} tx_policy_difference_state;

/* At exit 0: 1 (stop, reuse last_label) when q lies within dist2_max of the
 * reference; else 0, and q becomes the reference. */
int tx_policy_difference_early(tx_policy_difference_state *state, const int8_t *q, int n, uint32_t dist2_max);
/* At the last exit: record its label for later samples. */
void tx_policy_difference_final(tx_policy_difference_state *state, int label);
void tx_policy_difference_reset(tx_policy_difference_state *state);

/* Temporal patience: exit 0 is trusted once it agreed with the decided label
 * for `patience` consecutive samples. */
typedef struct {
    int last_label;  /* label decided for the previous sample, -1 for none */
    int streak;      /* consecutive samples where exit 0 agreed with the decided label */
    int early_label; /* exit 0's label for the current sample */
} tx_policy_temporal_patience_state;

/* At exit 0, with its label: 1 (stop) when trusted and it repeats the last decided label. */
int tx_policy_temporal_patience_early(tx_policy_temporal_patience_state *state, int label, int patience);
/* At the last exit, with its label: update the streak and the decided label. */
void tx_policy_temporal_patience_final(tx_policy_temporal_patience_state *state, int decided, int patience);
void tx_policy_temporal_patience_reset(tx_policy_temporal_patience_state *state);

#endif
