/* segment.c: run a U-Net compiled by unetc on a picture and write the mask and an overlay.
 *
 *   segment INPUT.pgm|INPUT.ppm MASK.pgm OVERLAY.ppm [--truth TRUTH.pgm]
 *
 * INPUT is a binary PGM (P5) or PPM (P6) of exactly UNET_IN_WIDTH x UNET_IN_HEIGHT pixels
 * (the size unet.c was generated for). Pixels are scaled to [0, 1]; a colour picture is
 * turned grey for a one-channel model, a grey one repeated for a three-channel model.
 * The model's first output channel is a logit per pixel: sigmoid(logit) > 0.5 is "object".
 * MASK.pgm gets 255 for object pixels, 0 elsewhere; OVERLAY.ppm is the picture in grey with
 * the objects tinted red and outlined in yellow. With --truth, prints the intersection over
 * union of the mask with TRUTH.pgm (255 = object).
 *
 * Build: unetc generate --weights shapes.safetensors --height 128 --width 128 --output-dir gen
 *        cc -O2 -Igen segment.c gen/unet.c -lm -o segment
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unet.h"

#define IN_PIXELS ((size_t)UNET_IN_HEIGHT * UNET_IN_WIDTH)
#define OUT_PIXELS ((size_t)UNET_OUT_HEIGHT * UNET_OUT_WIDTH)

static float input[(size_t)UNET_BATCH * UNET_IN_CHANNELS * IN_PIXELS];
static float output[(size_t)UNET_BATCH * UNET_OUT_CHANNELS * OUT_PIXELS];
static unsigned char picture[IN_PIXELS * 3];        /* RGB */
static unsigned char mask[OUT_PIXELS];

/* Reads one header number of a PNM file, skipping white space and comments. */
static int read_number(FILE *f, int *value)
{
    int c = fgetc(f);
    while (c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        if (c == '#')
            while (c != '\n' && c != EOF) c = fgetc(f);
        c = fgetc(f);
    }
    if (c < '0' || c > '9') return 0;
    *value = 0;
    while (c >= '0' && c <= '9') {
        if (*value > 100000) return 0;
        *value = *value * 10 + (c - '0');
        c = fgetc(f);
    }
    return 1;   /* the single white-space character after the number is consumed */
}

/* Reads a P5 or P6 file into picture[] as RGB. Returns its channel count (1 or 3), or 0 and
 * prints why. */
static int read_pnm(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[3] = {0};
    int width, height, maxval, channels;
    size_t i, count;
    unsigned char *raw;
    if (!f) { perror(path); return 0; }
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')
        || !read_number(f, &width) || !read_number(f, &height) || !read_number(f, &maxval)
        || maxval < 1 || maxval > 255) {
        fprintf(stderr, "%s: not a binary PGM (P5) or PPM (P6) with maxval <= 255\n", path);
        fclose(f);
        return 0;
    }
    if (width != UNET_IN_WIDTH || height != UNET_IN_HEIGHT) {
        fprintf(stderr, "%s: the picture is %dx%d but unet.c was generated for %dx%d: "
                "run unetc generate --height %d --width %d\n",
                path, width, height, UNET_IN_WIDTH, UNET_IN_HEIGHT, height, width);
        fclose(f);
        return 0;
    }
    channels = magic[1] == '5' ? 1 : 3;
    count = IN_PIXELS * (size_t)channels;
    raw = picture + IN_PIXELS * 3 - count;      /* read into the tail, expand forwards */
    if (fread(raw, 1, count, f) != count) {
        fprintf(stderr, "%s: truncated\n", path);
        fclose(f);
        return 0;
    }
    fclose(f);
    for (i = 0; i < IN_PIXELS; i++) {
        unsigned char r = raw[i * (size_t)channels], g = raw[i * (size_t)channels + (size_t)(channels - 1) / 2],
                      b = raw[i * (size_t)channels + (size_t)channels - 1];
        picture[3 * i] = (unsigned char)(r * 255 / maxval);
        picture[3 * i + 1] = (unsigned char)(g * 255 / maxval);
        picture[3 * i + 2] = (unsigned char)(b * 255 / maxval);
    }
    return channels;
}

static int write_pnm(const char *path, const char *magic, const unsigned char *pixels,
                     int width, int height, int channels)
{
    FILE *f = fopen(path, "wb");
    size_t count = (size_t)width * (size_t)height * (size_t)channels;
    if (!f) { perror(path); return 0; }
    fprintf(f, "%s\n%d %d\n255\n", magic, width, height);
    if (fwrite(pixels, 1, count, f) != count || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", path);
        return 0;
    }
    return 1;
}

/* The model's input: NCHW floats in [0, 1], grey or RGB as the model wants. */
static int fill_input(void)
{
    size_t i, c;
    for (i = 0; i < IN_PIXELS; i++) {
        const unsigned char *p = picture + 3 * i;
        if (UNET_IN_CHANNELS == 1) {
            input[i] = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) / 255.0f;
        } else if (UNET_IN_CHANNELS == 3) {
            for (c = 0; c < 3; c++) input[c * IN_PIXELS + i] = p[c] / 255.0f;
        } else {
            fprintf(stderr, "the model takes %d channels; this program feeds 1 (grey) or 3 (RGB)\n",
                    UNET_IN_CHANNELS);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    static unsigned char overlay[IN_PIXELS * 3];
    const char *truth_path = NULL;
    /* The output is smaller than the input when the size is not a multiple of 2^depth; it
     * covers the middle of the picture. */
    const size_t top = (UNET_IN_HEIGHT - UNET_OUT_HEIGHT) / 2, left = (UNET_IN_WIDTH - UNET_OUT_WIDTH) / 2;
    size_t i, y, x, objects = 0;
    clock_t start;
    double ms;

    if (argc == 6 && strcmp(argv[4], "--truth") == 0) truth_path = argv[5];
    else if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT.pgm|INPUT.ppm MASK.pgm OVERLAY.ppm [--truth TRUTH.pgm]\n", argv[0]);
        return 2;
    }
    if (!read_pnm(argv[1]) || !fill_input()) return 1;

    start = clock();
    if (unet_run(input, output, NULL) != 0) {     /* NULL: the static arena inside unet.c */
        fprintf(stderr, "unet_run failed\n");
        return 1;
    }
    ms = 1000.0 * (double)(clock() - start) / CLOCKS_PER_SEC;

    for (i = 0; i < OUT_PIXELS; i++) {
        float probability = 1.0f / (1.0f + expf(-output[i]));     /* channel 0 of image 0 */
        mask[i] = probability > 0.5f ? 255 : 0;
        objects += mask[i] != 0;
    }
    for (y = 0; y < UNET_IN_HEIGHT; y++) {
        for (x = 0; x < UNET_IN_WIDTH; x++) {
            unsigned char *o = overlay + 3 * (y * UNET_IN_WIDTH + x);
            const unsigned char *p = picture + 3 * (y * UNET_IN_WIDTH + x);
            int grey = (299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000;
            int inside = 0, edge = 0;
            if (y >= top && y < top + UNET_OUT_HEIGHT && x >= left && x < left + UNET_OUT_WIDTH) {
                size_t my = y - top, mx = x - left;
                inside = mask[my * UNET_OUT_WIDTH + mx] != 0;
                edge = inside && (my == 0 || mx == 0 || my + 1 == UNET_OUT_HEIGHT || mx + 1 == UNET_OUT_WIDTH
                                  || !mask[(my - 1) * UNET_OUT_WIDTH + mx] || !mask[(my + 1) * UNET_OUT_WIDTH + mx]
                                  || !mask[my * UNET_OUT_WIDTH + mx - 1] || !mask[my * UNET_OUT_WIDTH + mx + 1]);
            }
            if (edge) { o[0] = 255; o[1] = 230; o[2] = 0; }
            else if (inside) { o[0] = (unsigned char)((grey + 255) / 2); o[1] = (unsigned char)(grey / 3); o[2] = (unsigned char)(grey / 3); }
            else { o[0] = o[1] = o[2] = (unsigned char)grey; }
        }
    }
    if (!write_pnm(argv[2], "P5", mask, UNET_OUT_WIDTH, UNET_OUT_HEIGHT, 1)
        || !write_pnm(argv[3], "P6", overlay, UNET_IN_WIDTH, UNET_IN_HEIGHT, 3))
        return 1;
    printf("%s: %dx%d, unet_run %.1f ms, object pixels %lu of %lu (%.1f%%)\n", argv[1], UNET_IN_WIDTH,
           UNET_IN_HEIGHT, ms, (unsigned long)objects, (unsigned long)OUT_PIXELS, 100.0 * (double)objects / (double)OUT_PIXELS);

    if (truth_path) {       /* compare with a known mask of the same size as the output */
        FILE *f = fopen(truth_path, "rb");
        int width, height, maxval;
        size_t both = 0, either = 0;
        if (!f || fgetc(f) != 'P' || fgetc(f) != '5' || !read_number(f, &width) || !read_number(f, &height)
            || !read_number(f, &maxval) || width != UNET_OUT_WIDTH || height != UNET_OUT_HEIGHT
            || fread(overlay, 1, OUT_PIXELS, f) != OUT_PIXELS) {
            fprintf(stderr, "%s: not a %dx%d binary PGM\n", truth_path, UNET_OUT_WIDTH, UNET_OUT_HEIGHT);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
        for (i = 0; i < OUT_PIXELS; i++) {
            both += mask[i] && overlay[i] >= 128;
            either += mask[i] || overlay[i] >= 128;
        }
        printf("IoU with %s: %.4f\n", truth_path, either ? (double)both / (double)either : 1.0);
    }
    return 0;
}
