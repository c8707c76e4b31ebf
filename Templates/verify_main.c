/* The test harness `unetc verify` compiles around unet.c: reads the input as raw float32,
 * runs unet_run, writes the output as raw float32 and, with a third argument, every layer's
 * output as records "name count\n" followed by count raw floats. Not part of unet.c. */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>

static FILE *unet_trace_file;

static void unet_trace(const char *name, const float *data, size_t count)
{
    if (unet_trace_file == NULL) return;
    fprintf(unet_trace_file, "%s %zu\n", name, count);
    fwrite(data, sizeof(float), count, unet_trace_file);
}

#define UNET_TRACE(name, data, count) unet_trace(name, data, count)
#include "unet.c"

#define IN_COUNT ((size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH)
#define OUT_COUNT ((size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH)

int main(int argc, char **argv)
{
    FILE *f;
    float *input, *output;
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: %s INPUT.f32 OUTPUT.f32 [TRACE]\n", argv[0]);
        return 2;
    }
    input = malloc(IN_COUNT * sizeof(float));
    output = malloc(OUT_COUNT * sizeof(float));
    if (input == NULL || output == NULL) return 3;
    f = fopen(argv[1], "rb");
    if (f == NULL || fread(input, sizeof(float), IN_COUNT, f) != IN_COUNT) {
        fprintf(stderr, "%s: cannot read %zu floats\n", argv[1], IN_COUNT);
        return 4;
    }
    fclose(f);
    if (argc > 3 && (unet_trace_file = fopen(argv[3], "wb")) == NULL) return 5;
#ifdef UNET_WEIGHTS_BYTES
    {
        /* External weights: the file named by $UNET_WEIGHTS_FILE, into aligned memory. */
        const char *path = getenv("UNET_WEIGHTS_FILE");
        void *weights = NULL;
        if (path == NULL || posix_memalign(&weights, 64, UNET_WEIGHTS_BYTES) != 0) return 8;
        f = fopen(path, "rb");
        if (f == NULL || fread(weights, 1, UNET_WEIGHTS_BYTES, f) != UNET_WEIGHTS_BYTES) {
            fprintf(stderr, "%s: cannot read %u bytes of weights\n", path, UNET_WEIGHTS_BYTES);
            return 9;
        }
        fclose(f);
        if (unet_set_weights(weights) != 0) return 10;
    }
#endif
    rc = unet_run(input, output, NULL);
    if (rc != 0) {
        fprintf(stderr, "unet_run returned %d\n", rc);
        return 6;
    }
    if (unet_trace_file != NULL) fclose(unet_trace_file);
    f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(output, sizeof(float), OUT_COUNT, f) != OUT_COUNT) return 7;
    fclose(f);
    free(input);
    free(output);
    return 0;
}
