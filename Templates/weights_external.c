
/* The weights live outside this file, in unet_weights.bin ({{WEIGHT_BYTES}} bytes of
 * little-endian float32, pre-packed): unet_set_weights() gives their address. */
static const float *unet_weights;
#define UNET_W unet_weights

int unet_set_weights(const void *weights)
{
    if (weights == NULL || (size_t)weights % 64 != 0) return 1;
    unet_weights = (const float *)weights;
    return 0;
}
