#include "tx_markers.h"

/* noinline and an empty asm statement keep every call in place at -O2/-O3. */
#define TX_MARKER_BODY __asm__ volatile("" ::: "memory")

__attribute__((noinline)) void tx_sample_begin(void) { TX_MARKER_BODY; }
__attribute__((noinline)) void tx_sample_end(void) { TX_MARKER_BODY; }
__attribute__((noinline)) void tx_stage_begin(int stage) { (void)stage; TX_MARKER_BODY; }
__attribute__((noinline)) void tx_stage_end(int stage) { (void)stage; TX_MARKER_BODY; }
/* Called between ops by profiling builds (codegen Options.op_markers). */
__attribute__((noinline)) void tx_op_mark(void) { TX_MARKER_BODY; }
