/* The timing harness `unetc tune` builds around generated unet.c files. Not part of unet.c.
 *
 * Compiled two ways from this one file:
 *
 *  - with -DUNET_TUNE_VARIANT=K and -I DIR: wraps DIR/unet.c (generated with external weights)
 *    as variant K, its entry points renamed unet_tune_run_K and unet_tune_set_weights_K, and
 *    UNET_TRACE stamping the monotonic clock after every layer;
 *  - with -DUNET_TUNE_VARIANTS=N (1 or 2): the main program, linked with the N variant objects.
 *
 * Usage: tune REPS WARMUPS INPUT.f32 (WEIGHTS_K TRACE_K) for each variant, TRACE_K a file for
 * one run's layer outputs as records "name count\n" + count raw floats (as verify_main.c writes
 * them), or "-". Each variant that has one is traced once first; then WARMUPS untimed runs and
 * REPS timed runs, the variants interleaved in alternating order (0 1, 1 0, 0 1, ...) so that a
 * drift in the machine's speed falls on both alike. Prints to stdout:
 *
 *     layers K COUNT          then COUNT lines "layer K I NAME"
 *     time K REP TOTAL_NS D_0 ... D_(COUNT-1)
 *
 * D_i: nanoseconds from the end of layer i-1 (the start of unet_run for i = 0) to the end of
 * layer i. Exits non-zero, with a message on stderr, on any failure. */
#define _POSIX_C_SOURCE 200112L
#include <stddef.h>

#define UNET_TUNE_CAT2(a, b) a##b
#define UNET_TUNE_CAT(a, b) UNET_TUNE_CAT2(a, b)

struct unet_tune_variant {
    int (*run)(const float *input, float *output, void *workspace);
    int (*set_weights)(const void *weights);
    size_t weight_bytes, in_count, out_count;
};

void unet_tune_trace(const char *name, const float *data, size_t count);

#ifdef UNET_TUNE_VARIANT

#define unet_run UNET_TUNE_CAT(unet_tune_run_, UNET_TUNE_VARIANT)
#define unet_set_weights UNET_TUNE_CAT(unet_tune_set_weights_, UNET_TUNE_VARIANT)
#define UNET_TRACE(name, data, count) unet_tune_trace(name, data, count)
#include "unet.c"

#ifndef UNET_WEIGHTS_BYTES
#error "unetc tune: unet.c must be generated with external weights"
#endif

const struct unet_tune_variant UNET_TUNE_CAT(unet_tune_variant_, UNET_TUNE_VARIANT) = {
    unet_run, unet_set_weights, UNET_WEIGHTS_BYTES,
    (size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH,
    (size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH};

#else

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef UNET_TUNE_VARIANTS
#define UNET_TUNE_VARIANTS 2
#endif

extern const struct unet_tune_variant unet_tune_variant_0;
#if UNET_TUNE_VARIANTS > 1
extern const struct unet_tune_variant unet_tune_variant_1;
#endif

#define UNET_TUNE_MAX_LAYERS 4096

static long long unet_tune_stamps[UNET_TUNE_MAX_LAYERS];
static const char *unet_tune_names[UNET_TUNE_MAX_LAYERS];
static size_t unet_tune_layers;
static FILE *unet_tune_dump;

static long long unet_tune_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void unet_tune_trace(const char *name, const float *data, size_t count)
{
    if (unet_tune_layers < UNET_TUNE_MAX_LAYERS) {
        unet_tune_stamps[unet_tune_layers] = unet_tune_now();
        unet_tune_names[unet_tune_layers] = name;
    }
    unet_tune_layers++;
    if (unet_tune_dump != NULL) {
        fprintf(unet_tune_dump, "%s %zu\n", name, count);
        fwrite(data, sizeof(float), count, unet_tune_dump);
    }
}

struct unet_tune_state {
    const struct unet_tune_variant *v;
    void *weights;
    float *input, *output;
    size_t layers;
};

/* One run of variant k; prints its times when rep >= 0. Returns 0 or an exit status. */
static int unet_tune_run(struct unet_tune_state *s, int k, int rep)
{
    long long t0, t1, prev;
    size_t i;
    int rc;
    unet_tune_layers = 0;
    t0 = unet_tune_now();
    rc = s->v->run(s->input, s->output, NULL);
    t1 = unet_tune_now();
    if (rc != 0) {
        fprintf(stderr, "variant %d: unet_run returned %d\n", k, rc);
        return 6;
    }
    if (unet_tune_layers > UNET_TUNE_MAX_LAYERS) {
        fprintf(stderr, "variant %d: more than %d layers\n", k, UNET_TUNE_MAX_LAYERS);
        return 7;
    }
    if (s->layers == 0) {
        s->layers = unet_tune_layers;
        printf("layers %d %zu\n", k, s->layers);
        for (i = 0; i < s->layers; i++) printf("layer %d %zu %s\n", k, i, unet_tune_names[i]);
    } else if (s->layers != unet_tune_layers) {
        fprintf(stderr, "variant %d: %zu layers, then %zu\n", k, s->layers, unet_tune_layers);
        return 7;
    }
    if (rep < 0) return 0;
    printf("time %d %d %lld", k, rep, t1 - t0);
    prev = t0;
    for (i = 0; i < s->layers; i++) {
        printf(" %lld", unet_tune_stamps[i] - prev);
        prev = unet_tune_stamps[i];
    }
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    const struct unet_tune_variant *variants[UNET_TUNE_VARIANTS];
    struct unet_tune_state states[UNET_TUNE_VARIANTS];
    float *input;
    FILE *f;
    int reps, warmups, k, rep, rc;
    size_t in_count;

    /* Ctrl-C is for `unetc tune`, which lets the current measurement finish. */
    signal(SIGINT, SIG_IGN);
    variants[0] = &unet_tune_variant_0;
#if UNET_TUNE_VARIANTS > 1
    variants[1] = &unet_tune_variant_1;
#endif
    if (argc != 4 + 2 * UNET_TUNE_VARIANTS) {
        fprintf(stderr, "usage: %s REPS WARMUPS INPUT.f32 (WEIGHTS TRACE|-) x %d\n", argv[0], UNET_TUNE_VARIANTS);
        return 2;
    }
    reps = atoi(argv[1]);
    warmups = atoi(argv[2]);
    in_count = variants[0]->in_count;
    input = malloc(in_count * sizeof(float));
    if (input == NULL) return 3;
    f = fopen(argv[3], "rb");
    if (f == NULL || fread(input, sizeof(float), in_count, f) != in_count) {
        fprintf(stderr, "%s: cannot read %zu floats\n", argv[3], in_count);
        return 4;
    }
    fclose(f);
    for (k = 0; k < UNET_TUNE_VARIANTS; k++) {
        struct unet_tune_state *s = &states[k];
        const char *path = argv[4 + 2 * k];
        s->v = variants[k];
        s->layers = 0;
        s->weights = NULL;
        if (s->v->in_count != in_count) {
            fprintf(stderr, "variant %d takes %zu input floats, variant 0 %zu\n", k, s->v->in_count, in_count);
            return 4;
        }
        s->input = input;
        s->output = malloc(s->v->out_count * sizeof(float));
        if (s->output == NULL || posix_memalign(&s->weights, 64, s->v->weight_bytes) != 0) return 3;
        f = fopen(path, "rb");
        if (f == NULL || fread(s->weights, 1, s->v->weight_bytes, f) != s->v->weight_bytes) {
            fprintf(stderr, "%s: cannot read %zu bytes of weights\n", path, s->v->weight_bytes);
            return 9;
        }
        fclose(f);
        if (s->v->set_weights(s->weights) != 0) return 10;
    }
    for (k = 0; k < UNET_TUNE_VARIANTS; k++) {
        const char *trace = argv[5 + 2 * k];
        if (strcmp(trace, "-") == 0) continue;
        if ((unet_tune_dump = fopen(trace, "wb")) == NULL) {
            fprintf(stderr, "%s: cannot write\n", trace);
            return 5;
        }
        rc = unet_tune_run(&states[k], k, -1);
        if (fclose(unet_tune_dump) != 0) rc = rc != 0 ? rc : 5;
        unet_tune_dump = NULL;
        if (rc != 0) return rc;
    }
    for (rep = -warmups; rep < reps; rep++) {
        int i;
        for (i = 0; i < UNET_TUNE_VARIANTS; i++) {
            /* Alternate the order: 0 1, 1 0, 0 1, ... */
            k = (rep + warmups) % 2 == 0 ? i : UNET_TUNE_VARIANTS - 1 - i;
            rc = unet_tune_run(&states[k], k, rep < 0 ? -1 : rep);
            if (rc != 0) return rc;
        }
        fflush(stdout);
    }
    for (k = 0; k < UNET_TUNE_VARIANTS; k++) {
        free(states[k].output);
        free(states[k].weights);
    }
    free(input);
    return 0;
}

#endif
