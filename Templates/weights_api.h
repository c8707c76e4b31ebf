
/* The weights are not in unet.c: load unet_weights.bin (UNET_WEIGHTS_BYTES bytes, from the same
 * `unetc generate`) into 64-byte aligned memory, or link it in, and pass its address once before
 * unet_run. Returns 0, or 1 for NULL or a misaligned address. */
#define UNET_WEIGHTS_BYTES {{WEIGHT_BYTES}}u
int unet_set_weights(const void *weights);
