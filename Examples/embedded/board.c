/* board.c: how firmware calls the generated network. Freestanding: no libc, no malloc.
 *
 * The camera (or its DMA) fills `frame` with a grey picture scaled to [0, 1]; the network
 * writes one logit per pixel into `logits`; logit > 0 means sigmoid > 0.5, "object".
 * unet_run gets NULL for its workspace, so it uses the static arena inside unet.c (in .bss:
 * UNET_WORKSPACE_BYTES). To put the arena in a particular RAM bank, pass your own 64-byte
 * aligned block instead, e.g. one placed with __attribute__((section(".sram2"))).
 */
#include <stddef.h>

#include "unet.h"

float board_frame[UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH];
float board_logits[UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH];

/* Segments board_frame; returns the number of object pixels, or -1 if unet_run fails. */
long board_segment_frame(void)
{
    long objects = 0;
    size_t i;
    if (unet_run(board_frame, board_logits, NULL) != 0) return -1;
    for (i = 0; i < sizeof board_logits / sizeof board_logits[0]; i++)
        objects += board_logits[i] > 0.0f;
    return objects;
}
