/* layers.c: per-layer timing harness for the C that `unetc generate` writes.
 *
 *   /usr/bin/clang-14 -O3 -march=native -fopenmp -I GEN_DIR layers.c -o l   (GEN_DIR/unet.c is
 *   included here, with UNET_TRACE stamping the clock after every layer)
 *   ./l [N]
 * For a unet.c generated with --external-weights, ./l N GEN_DIR/unet_weights.bin.
 *
 * Runs unet_run on a deterministic pseudo-random input once as warm-up, then N (default 10)
 * timed runs. Prints one line per layer: "NAME MEDIAN_NS", the median over the runs of the time
 * from the end of the layer before (the start of unet_run for the first) to the end of this
 * one, then "total MEDIAN_NS". The speed schedule runs each layer in its own parallel region,
 * so the stamps fall between layers; with --memory-mode min a group's stamps all come at its
 * end and the group's time goes to its last layer.
 *
 * With LAYERS_OUTPUT=PATH in the environment it writes the output there (raw float32).
 *
 * Then, for every direct conv that runs on its own, its phases (UNET_PHASE): lines "phase NAME
 * PHASE NS" for PHASE pack (copying the band's input rows into the panel), wait (at the
 * barriers) and compute (the register tiles), NS the mean per thread and per timed run.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 1024
static const char *names[MAX_LAYERS];
static long long stamps[MAX_LAYERS];
static size_t count;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void trace(const char *name, const float *data, size_t n)
{
    (void)data; (void)n;
    if (count < MAX_LAYERS) { names[count] = name; stamps[count++] = now_ns(); }
}

/* Phases: each thread keeps its own table (no locks), merged by name at the end. */
#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif
#define MAX_THREADS 64
#define MAX_PHASES 512
struct phase_table {
    const char *layer[MAX_PHASES], *phase[MAX_PHASES];
    long long ns[MAX_PHASES], last;
    size_t count;
    char pad[64];
};
static struct phase_table tables[MAX_THREADS];
static int timing; /* only the timed runs count */

static void phase(const char *layer, const char *name)
{
    int id = THREAD_ID();
    struct phase_table *t;
    long long now = now_ns(), d;
    size_t i;
    if (id >= MAX_THREADS) return; /* beyond the tables: not timed */
    t = &tables[id];
    d = now - t->last;
    t->last = now;
    if (!timing || strcmp(name, "start") == 0) return;
    for (i = 0; i < t->count; i++)
        if (strcmp(t->layer[i], layer) == 0 && strcmp(t->phase[i], name) == 0) break;
    if (i == t->count) {
        if (i == MAX_PHASES) return;
        t->layer[i] = layer; t->phase[i] = name; t->ns[i] = 0; t->count++;
    }
    t->ns[i] += d;
}

static void print_phases(int runs)
{
    size_t i, k, j;
    for (i = 0; i < tables[0].count; i++) {
        long long sum = 0;
        int threads = 0;
        for (k = 0; k < MAX_THREADS; k++)
            for (j = 0; j < tables[k].count; j++)
                if (strcmp(tables[k].layer[j], tables[0].layer[i]) == 0 && strcmp(tables[k].phase[j], tables[0].phase[i]) == 0) {
                    sum += tables[k].ns[j];
                    threads++;
                }
        printf("phase %s %s %lld\n", tables[0].layer[i], tables[0].phase[i], sum / threads / runs);
    }
}

#define UNET_TRACE(name, data, n) trace(name, data, n)
#define UNET_PHASE(name, phase_name) phase(name, phase_name)
#include "unet.c"

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 10, r;
    size_t in_count = (size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH;
    size_t out_count = (size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH;
    float *input = malloc(in_count * sizeof(float)), *output = malloc(out_count * sizeof(float));
    long long *times, *column;
    size_t layers = 0, i;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    if (runs < 1) runs = 1;
    if (input == NULL || output == NULL) { fprintf(stderr, "layers: out of memory\n"); return 1; }
#ifdef UNET_WEIGHTS_BYTES
    {
        void *weights = NULL;
        FILE *f = argc > 2 ? fopen(argv[2], "rb") : NULL;
        if (f == NULL) { fprintf(stderr, "layers: give unet_weights.bin after the run count\n"); return 1; }
        if (posix_memalign(&weights, 64, UNET_WEIGHTS_BYTES) != 0
            || fread(weights, 1, UNET_WEIGHTS_BYTES, f) != UNET_WEIGHTS_BYTES || unet_set_weights(weights) != 0) {
            fprintf(stderr, "layers: cannot read %s (%u bytes)\n", argv[2], (unsigned)UNET_WEIGHTS_BYTES);
            return 1;
        }
        fclose(f);
    }
#endif
    for (i = 0; i < in_count; i++) { /* xorshift64*, uniform in [0, 1), as harness.c */
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        input[i] = (float)((s * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
    }
    if (unet_run(input, output, NULL) != 0) { fprintf(stderr, "layers: unet_run failed\n"); return 2; }
    layers = count;
    times = malloc(sizeof(long long) * (layers + 1) * (size_t)runs);
    column = malloc(sizeof(long long) * (size_t)runs);
    if (times == NULL || column == NULL) { fprintf(stderr, "layers: out of memory\n"); return 1; }
    timing = 1;
    for (r = 0; r < runs; r++) {
        long long start;
        count = 0;
        start = now_ns();
        if (unet_run(input, output, NULL) != 0) { fprintf(stderr, "layers: unet_run failed\n"); return 2; }
        if (count != layers) { fprintf(stderr, "layers: %zu stamps, then %zu\n", layers, count); return 2; }
        for (i = 0; i < layers; i++) times[(size_t)r * (layers + 1) + i] = stamps[i] - (i ? stamps[i - 1] : start);
        times[(size_t)r * (layers + 1) + layers] = stamps[layers - 1] - start;
    }
    for (i = 0; i <= layers; i++) {
        for (r = 0; r < runs; r++) column[r] = times[(size_t)r * (layers + 1) + i];
        qsort(column, (size_t)runs, sizeof(long long), cmp_ll);
        printf("%s %lld\n", i < layers ? names[i] : "total", column[runs / 2]);
    }
    print_phases(runs);
    if (getenv("LAYERS_OUTPUT") != NULL) { /* the last run's output, raw float32 */
        FILE *f = fopen(getenv("LAYERS_OUTPUT"), "wb");
        if (f == NULL || fwrite(output, sizeof(float), out_count, f) != out_count || fclose(f) != 0) {
            fprintf(stderr, "layers: cannot write %s\n", getenv("LAYERS_OUTPUT"));
            return 1;
        }
    }
    return 0;
}
