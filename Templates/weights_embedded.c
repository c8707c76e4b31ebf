
/* The weights, defined at the end of this file: every layer's, pre-packed, {{WEIGHT_BYTES}}
 * bytes of little-endian IEEE-754 floats held in string literals (rows of UNET_W_ROW bytes),
 * which compilers read many times faster than a list of numbers. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "unet.c embeds little-endian weights: on a big-endian target use unetc generate --external-weights"
#endif
#define UNET_W_ROW 4092
static const unsigned char unet_w[{{WEIGHT_ROWS}}][UNET_W_ROW] __attribute__((aligned(64)));
/* A float that may alias other types: the weights are read as floats from those bytes. */
typedef float unet_float __attribute__((may_alias));
#define UNET_W ((const unet_float *)(const void *)unet_w)
