/* tx_copy_channels_s8: copy a block of channels from one NHWC tensor into
 * another (TFLM CONCATENATION and STRIDED_SLICE on int8 data: byte copies,
 * no arithmetic).
 *
 * Both tensors are seen as [rows][stride] byte matrices. For each row r:
 *   out[r * out_stride + out_start + j] = in[r * in_stride + in_start + j],  j < count
 * CONCATENATION on the last axis is one call per input (rows = pixels,
 * in_stride = count = that input's channels, out_start = channels of the
 * inputs before it); on another axis, the dimensions after the axis fold
 * into the strides. A STRIDED_SLICE that cuts one axis with stride 1 is one
 * call with in_start = the first kept index times the inner size.
 *
 * Every value below is computed at generation time by
 * codegen/ops/concatenation.py, codegen/ops/strided_slice.py and (a 1x1
 * pooling window, the identity) codegen/ops/pooling.py.
 *
 * When both start addresses are word-aligned and count, in_stride and
 * out_stride are multiples of 4, the kernel copies words: 16-byte blocks
 * (LDM / STM on Cortex-M), then up to 3 words per row; rows that are
 * contiguous in both tensors are one run. Otherwise it copies bytes.
 */
#ifndef TX_COPY_CHANNELS_S8_H
#define TX_COPY_CHANNELS_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows;       /* number of rows (e.g. pixels), >= 1                            */
    int32_t count;      /* bytes copied per row, >= 1                                    */
    int32_t in_stride;  /* bytes per input row, >= in_start + count                      */
    int32_t in_start;   /* first byte copied within an input row, >= 0                   */
    int32_t out_stride; /* bytes per output row, >= out_start + count                    */
    int32_t out_start;  /* where the block lands within an output row, >= 0              */
} tx_copy_channels_s8_params;

/* in: [rows][in_stride]; out: [rows][out_stride]; they must not overlap. */
void tx_copy_channels_s8(const tx_copy_channels_s8_params *p, const int8_t *in, int8_t *out);

#endif /* TX_COPY_CHANNELS_S8_H */
