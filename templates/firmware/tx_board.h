/* tx_board.h - set-up of the real part (tx_board.c, generated from the board file's [hardware]). */
#ifndef TX_BOARD_H
#define TX_BOARD_H

#include <stdint.h>

/* Clock tree, UART pins and baud rate, DWT cycle counter; returns the SYSCLK
 * in Hz the part really runs at (the PLL's, or the reset clock when a step of
 * the set-up did not complete). */
uint32_t tx_board_init(void);

#endif
