/* tx_copy_channels_s8: see tx_copy_channels_s8.h for the parameters. */
#include "tx_copy_channels_s8.h"

#include <stdint.h>

#if defined(__GNUC__)
typedef uint32_t tx_copy_word __attribute__((may_alias)); /* int8 tensors read and written as words */
typedef struct {
    uint32_t w[4];
} __attribute__((may_alias)) tx_copy_block;
#else
typedef uint32_t tx_copy_word;
typedef struct {
    uint32_t w[4];
} tx_copy_block;
#endif

/* Word path: both tensors word-aligned and every start, stride and count a multiple of 4. Each
 * row: 16-byte blocks (one LDM / STM pair on Cortex-M), then up to 3 words. */
static void copy_words(const tx_copy_word *src, tx_copy_word *dst, int32_t rows, int32_t words, int32_t in_step,
                       int32_t out_step)
{
    const int32_t blocks = words >> 2, tail = words & 3;
    for (int32_t r = 0; r < rows; ++r) {
        const tx_copy_block *s = (const tx_copy_block *)(const void *)src;
        tx_copy_block *d = (tx_copy_block *)(void *)dst;
        for (int32_t k = blocks; k > 0; --k) {
            *d++ = *s++;
        }
        if (tail != 0) {
            const tx_copy_word *sw = (const tx_copy_word *)(const void *)s;
            tx_copy_word *dw = (tx_copy_word *)(void *)d;
            for (int32_t k = 0; k < tail; ++k) {
                dw[k] = sw[k];
            }
        }
        src += in_step;
        dst += out_step;
    }
}

void tx_copy_channels_s8(const tx_copy_channels_s8_params *p, const int8_t *in, int8_t *out)
{
    const int8_t *src = in + p->in_start;
    int8_t *dst = out + p->out_start;
    const uint32_t layout = (uint32_t)((uintptr_t)src | (uintptr_t)dst) |
                            (uint32_t)(p->count | p->in_stride | p->out_stride);
    if ((layout & 3u) == 0 && p->count == p->in_stride && p->count == p->out_stride) { /* one run */
        copy_words((const tx_copy_word *)(const void *)src, (tx_copy_word *)(void *)dst, 1, p->rows * (p->count / 4),
                   0, 0);
        return;
    }
    if ((layout & 3u) == 0) {
        copy_words((const tx_copy_word *)(const void *)src, (tx_copy_word *)(void *)dst, p->rows, p->count / 4,
                   p->in_stride / 4, p->out_stride / 4);
        return;
    }
    for (int32_t r = 0; r < p->rows; ++r) {
        for (int32_t j = 0; j < p->count; ++j) {
            dst[j] = src[j];
        }
        src += p->in_stride;
        dst += p->out_stride;
    }
}
