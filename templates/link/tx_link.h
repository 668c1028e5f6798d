/*
 * tx_link.h - tinyexit split deployment: the frame that carries the tensors
 * crossing the stage boundary from device A to device B. Hand-written, shipped
 * with tinyexit; no allocation, integer only.
 *
 * Frame layout (all fields little endian), TX_LINK_HEADER_BYTES + length + 4 bytes:
 *
 *   offset  size  field
 *        0     4  magic    "TXLK" (0x4B4C5854)
 *        4     2  version  TX_LINK_VERSION
 *        6     2  stage    the first stage device B runs (the boundary)
 *        8     4  sequence the sample's sequence number; strictly increasing
 *       12     4  length   payload bytes
 *       16     n  payload  the boundary tensors, back to back, in the order the
 *                          generator lists them (manifest order, by tensor index)
 *     16+n     4  crc32    CRC-32 (IEEE 802.3, reflected, as zlib.crc32) of bytes 0 .. 16+n-1
 *
 * Device A fills the payload in place (tx_link_payload) and seals the frame;
 * device B opens it and gets a status: a corrupted, truncated, foreign,
 * replayed or out-of-order frame is refused with its code and never run.
 */
#ifndef TX_LINK_H
#define TX_LINK_H

#include <stddef.h>
#include <stdint.h>

#define TX_LINK_MAGIC 0x4B4C5854u /* "TXLK" */
#define TX_LINK_VERSION 1u
#define TX_LINK_HEADER_BYTES 16u
#define TX_LINK_TRAILER_BYTES 4u
#define TX_LINK_OVERHEAD (TX_LINK_HEADER_BYTES + TX_LINK_TRAILER_BYTES)

/* Status of tx_link_open, in the order the checks run. */
typedef enum {
    TX_LINK_OK = 0,
    TX_LINK_TRUNCATED = 1,   /* fewer bytes than the header, or than header + length + CRC */
    TX_LINK_BAD_MAGIC = 2,   /* not a tinyexit frame */
    TX_LINK_BAD_VERSION = 3, /* another frame version */
    TX_LINK_BAD_STAGE = 4,   /* cut at another stage than this device starts at */
    TX_LINK_BAD_LENGTH = 5,  /* payload length is not this boundary's, or bytes follow the CRC */
    TX_LINK_BAD_CRC = 6,     /* corrupted: the CRC-32 does not match */
    TX_LINK_REPLAYED = 7     /* sequence number not above the last accepted one: replayed or out of order */
} tx_link_status;

/* Receiver state: the last sequence number accepted (none yet when `started` is 0). */
typedef struct {
    uint32_t last_sequence;
    int started;
} tx_link_receiver;

/* CRC-32 (polynomial 0xEDB88320 reflected, initial and final XOR 0xFFFFFFFF) of n bytes. */
uint32_t tx_crc32(const uint8_t *data, size_t n);

/* Where device A writes the payload inside a frame buffer. */
uint8_t *tx_link_payload(uint8_t *frame);

/* Writes header and CRC around the `length` payload bytes already in place;
 * returns the frame's size in bytes (length + TX_LINK_OVERHEAD). */
size_t tx_link_seal(uint8_t *frame, uint32_t sequence, uint16_t stage, uint32_t length);

/* Checks a received frame of `size` bytes for a device that starts at `stage`
 * and expects `length` payload bytes. On TX_LINK_OK, *payload points at the
 * payload and the receiver remembers the sequence number; on any other status
 * nothing is remembered and *payload is NULL. */
tx_link_status tx_link_open(tx_link_receiver *rx, const uint8_t *frame, size_t size, uint16_t stage, uint32_t length,
                            const uint8_t **payload);

#endif /* TX_LINK_H */
