/* harness.c: timing harness for the C that `unetc generate` writes.
 *
 *   /usr/bin/clang-14 -O3 -march=native -fopenmp -I GEN_DIR harness.c GEN_DIR/unet.c -o h
 *   ./h INPUT.f32|- [N] [OUTPUT.f32]
 *   ./h --info
 *
 * INPUT.f32: raw little-endian float32, UNET_BATCH x UNET_IN_CHANNELS x UNET_IN_HEIGHT x
 * UNET_IN_WIDTH (NCHW); "-" = deterministic pseudo-random input, uniform in [0,1).
 * Runs unet_run once as warm-up, then N (default 10) timed runs; prints one line per timed run
 * on stdout: "<milliseconds>" (CLOCK_MONOTONIC). Writes the output of the last run as raw
 * float32 to OUTPUT.f32 when given. A summary goes to stderr:
 *   # runs N median_ms M min_ms M peak_rss_kib K
 * --info prints the UNET_* constants and exits.
 * Environment: HARNESS_WORKSPACE=malloc passes a 64-byte aligned malloc'd workspace of
 * UNET_WORKSPACE_BYTES instead of NULL (the generated static arena).
 * Exit status: 0 ok, 1 usage/I-O error, 2 unet_run returned non-zero, 3 non-finite output.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "unet.h"

#define IN_COUNT ((size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH)
#define OUT_COUNT ((size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Peak resident set in KiB: VmHWM from /proc/self/status (per address space, so it starts afresh
 * at exec), else ru_maxrss. ru_maxrss alone is wrong under a big parent: Linux carries the
 * pre-exec high-water mark across execve, so a child forked from a 1 GB Python process reports
 * >= 1 GB. */
static long peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kib = -1;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmHWM:", 6) == 0) { kib = strtol(line + 6, NULL, 10); break; }
        fclose(f);
        if (kib >= 0) return kib;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int is_little_endian(void) {
    uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static void bswap_floats(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &p[i], 4);
        u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
        memcpy(&p[i], &u, 4);
    }
}

static void *alloc64(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, 64, (bytes + 63) / 64 * 64) != 0) return NULL;
    return p;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--info") == 0) {
        printf("UNET_BATCH=%d\nUNET_IN_CHANNELS=%d\nUNET_IN_HEIGHT=%d\nUNET_IN_WIDTH=%d\n"
               "UNET_OUT_CHANNELS=%d\nUNET_OUT_HEIGHT=%d\nUNET_OUT_WIDTH=%d\n"
               "UNET_WORKSPACE_BYTES=%llu\n",
               (int)UNET_BATCH, (int)UNET_IN_CHANNELS, (int)UNET_IN_HEIGHT, (int)UNET_IN_WIDTH,
               (int)UNET_OUT_CHANNELS, (int)UNET_OUT_HEIGHT, (int)UNET_OUT_WIDTH,
               (unsigned long long)(UNET_WORKSPACE_BYTES));
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: %s INPUT.f32|- [N] [OUTPUT.f32]\n       %s --info\n", argv[0],
                argv[0]);
        return 1;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10;
    if (n < 0) n = 0;
    const char *out_path = argc > 3 ? argv[3] : NULL;

    float *input = alloc64(IN_COUNT * sizeof(float));
    float *output = alloc64(OUT_COUNT * sizeof(float));
    double *times = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!input || !output || !times) {
        fprintf(stderr, "harness: out of memory\n");
        return 1;
    }
    if (strcmp(argv[1], "-") == 0) {
        uint64_t s = 0x9E3779B97F4A7C15ull; /* xorshift64*: deterministic, uniform [0,1) */
        for (size_t i = 0; i < IN_COUNT; i++) {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            input[i] = (float)((s * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
        }
    } else {
        FILE *f = fopen(argv[1], "rb");
        if (!f) { perror(argv[1]); return 1; }
        size_t got = fread(input, sizeof(float), IN_COUNT, f);
        int extra = fgetc(f) != EOF;
        fclose(f);
        if (got != IN_COUNT || extra) {
            fprintf(stderr, "harness: %s must hold exactly %zu float32 (%dx%dx%dx%d)\n", argv[1],
                    IN_COUNT, (int)UNET_BATCH, (int)UNET_IN_CHANNELS, (int)UNET_IN_HEIGHT,
                    (int)UNET_IN_WIDTH);
            return 1;
        }
        if (!is_little_endian()) bswap_floats(input, IN_COUNT);
    }

    void *workspace = NULL;
    const char *ws = getenv("HARNESS_WORKSPACE");
    if (ws && strcmp(ws, "malloc") == 0) {
        workspace = alloc64((size_t)(UNET_WORKSPACE_BYTES));
        if (!workspace) { fprintf(stderr, "harness: cannot allocate workspace\n"); return 1; }
    }

    int rc = unet_run(input, output, workspace); /* warm-up: page faults, thread pool start */
    if (rc != 0) { fprintf(stderr, "harness: unet_run returned %d\n", rc); return 2; }
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        rc = unet_run(input, output, workspace);
        double t1 = now_ms();
        if (rc != 0) { fprintf(stderr, "harness: unet_run returned %d\n", rc); return 2; }
        times[i] = t1 - t0;
        printf("%.4f\n", times[i]);
        fflush(stdout);
    }

    size_t bad = 0;
    for (size_t i = 0; i < OUT_COUNT; i++) bad += !isfinite(output[i]);

    if (out_path) {
        if (!is_little_endian()) bswap_floats(output, OUT_COUNT);
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(output, sizeof(float), OUT_COUNT, f) != OUT_COUNT || fclose(f) != 0) {
            perror(out_path);
            return 1;
        }
    }

    long rss = peak_rss_kib();
    if (n > 0) {
        qsort(times, (size_t)n, sizeof(double), cmp_double);
        double med = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        fprintf(stderr, "# runs %d median_ms %.4f min_ms %.4f peak_rss_kib %ld\n", n, med,
                times[0], rss);
    } else {
        fprintf(stderr, "# runs 0 peak_rss_kib %ld\n", rss);
    }
    if (bad) {
        fprintf(stderr, "harness: %zu non-finite output values\n", bad);
        return 3;
    }
    free(workspace);
    free(times);
    free(output);
    free(input);
    return 0;
}
