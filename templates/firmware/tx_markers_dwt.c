/*
 * tx_markers_dwt.c - the stage markers of the real-board firmware: the same
 * five functions as tx_markers.c, which here read the DWT cycle counter
 * (CYCCNT, started by tx_board_init) instead of doing nothing.
 *
 * After each sample, once its end count is taken, it prints one line per stage
 * that ran and one for the whole inference:
 *   TXC <sample> <stage> <cycles>   cycles from tx_stage_begin(k) to tx_stage_end(k)
 *   TXS <sample> <cycles>           cycles from tx_sample_begin() to tx_sample_end()
 * (decimal, samples and stages from 0). Printing happens outside the measured
 * spans. CYCCNT is 32 bits: a span up to 2^32 - 1 cycles (15 s at 280 MHz)
 * is exact across a wrap, by unsigned subtraction.
 */
#include <stdint.h>

#include "tx_io.h"
#include "tx_markers.h"

/* ARMv7-M/ARMv8-M ARM "DWT": CYCCNT at 0xE0001004. A host test defines
 * TX_CYCLES() to run this file's print routine off the MCU. */
#ifndef TX_CYCLES
#define TX_CYCLES() (*(volatile uint32_t *)0xE0001004u)
#endif
#define TX_MAX_STAGES 32

static uint32_t sample_start;
static uint32_t stage_start;
static uint32_t stage_cycles[TX_MAX_STAGES];
static int stages_run;
static uint32_t sample_index;

/* Appends v in decimal at dst; returns the number of characters written. */
static int put_decimal(char *dst, uint32_t v)
{
    char digits[10];
    int k = 0;
    do {
        digits[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    for (int i = 0; i < k; ++i) {
        dst[i] = digits[k - 1 - i];
    }
    return k;
}

/* "<head><a> <b>\n", or "<head><a>\n" when with_b is 0. */
static void print_line(const char *head, uint32_t a, uint32_t b, int with_b, uint32_t c)
{
    char line[48];
    int n = 0;
    while (*head) {
        line[n++] = *head++;
    }
    n += put_decimal(line + n, a);
    line[n++] = ' ';
    if (with_b) {
        n += put_decimal(line + n, b);
        line[n++] = ' ';
    }
    n += put_decimal(line + n, c);
    line[n++] = '\n';
    line[n] = '\0';
    tx_io_message(line);
}

__attribute__((noinline)) void tx_sample_begin(void)
{
    stages_run = 0;
    sample_start = TX_CYCLES();
}

__attribute__((noinline)) void tx_stage_begin(int stage)
{
    (void)stage;
    stage_start = TX_CYCLES();
}

__attribute__((noinline)) void tx_stage_end(int stage)
{
    const uint32_t now = TX_CYCLES();
    if (stage >= 0 && stage < TX_MAX_STAGES) {
        stage_cycles[stage] = now - stage_start;
        stages_run = stage + 1;
    }
}

__attribute__((noinline)) void tx_sample_end(void)
{
    const uint32_t total = TX_CYCLES() - sample_start;
    for (int k = 0; k < stages_run; ++k) {
        print_line("TXC ", sample_index, (uint32_t)k, 1, stage_cycles[k]);
    }
    print_line("TXS ", sample_index, 0u, 0, total);
    ++sample_index;
}

__attribute__((noinline)) void tx_op_mark(void)
{
    __asm__ volatile("" ::: "memory");
}
