
/* The weights, defined at the end of this file: every layer's, pre-packed, as exact IEEE-754
 * bit patterns ({{WEIGHT_BYTES}} bytes). */
union unet_weights {
    unsigned int bits[{{WEIGHT_FLOATS}}];
    float f[{{WEIGHT_FLOATS}}];
};
static const union unet_weights unet_w;
#define UNET_W (unet_w.f)
