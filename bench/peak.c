/* peak.c: float32 FMA-throughput micro-benchmark (the "% of peak" denominator).
 *
 *   /usr/bin/clang-14 -O3 -march=native -ffp-contract=fast -fopenmp peak.c -o peak
 *   ./peak [max_threads] [seconds_per_trial]
 *
 * Portable C with GNU vector extensions: 16 independent accumulators of the widest vector per
 * thread (12 where there are 16 registers; an FMA has ~4 cycles latency and 2 issue per
 * cycle, so >= 8 chains are needed to saturate the pipes); each step is acc = acc * m + a,
 * which clang contracts into one vfmadd per vector. Every thread runs the same loop;
 * GFLOP/s = 2 * lanes * FMAs / wall time,
 * best of a few trials (the machine may be shared). Prints one line per thread count:
 *   threads=1 gflops=281.3 ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The widest vectors the target has, and as many accumulators as leave room in its registers
 * for m and a: 16 of 32 AVX-512 registers; 12 of 16 with AVX/AVX2 (16 there would spill:
 * half the FLOP/s on a Zen 3) or SSE. */
#if defined(__AVX512F__)
#define LANES 16
#define NACC 16
#elif defined(__AVX__)
#define LANES 8
#define NACC 12
#elif defined(__aarch64__)
#define LANES 4
#define NACC 16
#else
#define LANES 4
#define NACC 12
#endif
typedef float v16 __attribute__((vector_size(LANES * 4)));
#define INNER 1024L

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* iters outer iterations of INNER * NACC vector FMAs; returns a checksum so nothing is dead. */
__attribute__((noinline)) static float fma_loop(long iters, float seed) {
    v16 acc[NACC];
    v16 m = (v16){0} + 0.9999999f, a = (v16){0} + 1e-7f;
    for (int i = 0; i < NACC; i++) acc[i] = (v16){0} + seed + (float)i * 1e-3f;
    for (long it = 0; it < iters; it++) {
        for (long k = 0; k < INNER; k++) {
            /* m and a opaque at every step: no compiler may fold steps together (gcc would) */
            __asm__ volatile("" : "+v"(m), "+v"(a));
#pragma clang loop unroll(full)
            for (int i = 0; i < NACC; i++) acc[i] = acc[i] * m + a;
        }
    }
    v16 s = acc[0];
    for (int i = 1; i < NACC; i++) s += acc[i];
    float r = 0;
    for (int l = 0; l < LANES; l++) r += s[l];
    return r;
}

static double flops_per_iter(void) { return 2.0 * LANES * NACC * INNER; }

/* one trial with nt threads, each doing iters; returns GFLOP/s */
static double trial(int nt, long iters, float *sink) {
    double t0 = 0, t1 = 0;
    float total = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(+ : total)
    {
#pragma omp barrier
#pragma omp master
        t0 = now();
        total += fma_loop(iters, 1.0f + omp_get_thread_num());
#pragma omp barrier
#pragma omp master
        t1 = now();
    }
#else
    (void)nt;
    t0 = now();
    total = fma_loop(iters, 1.0f);
    t1 = now();
    nt = 1;
#endif
    *sink += total;
    return flops_per_iter() * iters * nt / (t1 - t0) / 1e9;
}

int main(int argc, char **argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    double secs = argc > 2 ? atof(argv[2]) : 0.3;
    float sink = 0;
    /* calibrate: iterations for ~secs on one thread */
    long iters = 64;
    for (;;) {
        double t0 = now();
        fma_loop(iters, 1.0f);
        double dt = now() - t0;
        if (dt > 0.05) { iters = (long)(iters * secs / dt) + 1; break; }
        if (iters > (1L << 40)) { fprintf(stderr, "peak: loop optimised away?\n"); return 1; }
        iters *= 4;
    }
    for (int nt = 1; nt <= max_threads; nt++) {
        double best = 0, worst = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double g = trial(nt, iters, &sink);
            if (g > best) best = g;
            if (g < worst) worst = g;
        }
        printf("threads=%d gflops=%.1f (worst %.1f; %d accumulators x %d lanes, %.2f s/trial)\n",
               nt, best, worst, NACC, LANES, secs);
    }
    fprintf(stderr, "checksum %g\n", (double)sink);
    return 0;
}
