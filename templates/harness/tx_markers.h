/* tx_markers.h - empty functions that mark where a sample and each stage
 * begin and end. They do nothing; a simulator's instruction counter keys on
 * their addresses to attribute executed instructions to stages. */
#ifndef TX_MARKERS_H
#define TX_MARKERS_H

void tx_sample_begin(void);
void tx_sample_end(void);
void tx_stage_begin(int stage);
void tx_stage_end(int stage);
void tx_op_mark(void);

#endif
