/* How fast the two cores of this machine hand data to each other, for telling its slow minutes
 * from its fast ones. Two OpenMP threads:
 *   roundtrip_ns  one cache line bounced between them (a write seen by the other thread, then
 *                 its answer seen back), averaged over 200000 round trips;
 *   xbw           GB/s at which thread 0 reads 4 MB that thread 1 has just written (best of 20).
 * On this 2-core Zen 5 machine: 80-170 ns and 100-120 GB/s in most minutes, 430-470 ns and
 * 37-43 GB/s in the slow ones, when the Winograd layers that share their bands between the two
 * threads run up to 2x slower (README, Speed).
 *
 *   clang -O3 -ffast-math -march=native -fopenmp bench/crosscore.c -o crosscore && ./crosscore
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static _Alignas(64) atomic_int flag;

int main(void)
{
    const int trips = 200000, rounds = 20;
    const size_t n = (size_t)1 << 20;
    float *buf = aligned_alloc(64, n * sizeof(float));
    double start = 0, stop = 0, best = 1e30;
    float sum = 0;
    if (buf == NULL) { fprintf(stderr, "crosscore: out of memory\n"); return 1; }
#pragma omp parallel num_threads(2) reduction(+ : sum)
    {
        int id = omp_get_thread_num(), i, r;
        size_t k;
#pragma omp barrier
        if (id == 0) start = now();
        for (i = 0; i < trips; i++) {
            int wait = id == 0 ? 2 * i : 2 * i + 1;
            while (atomic_load_explicit(&flag, memory_order_acquire) != wait) {
            }
            atomic_store_explicit(&flag, wait + 1, memory_order_release);
        }
        if (id == 0) stop = now();
        for (r = 0; r < rounds; r++) {
#pragma omp barrier
            if (id == 1)
                for (k = 0; k < n; k++) buf[k] = (float)(k + (size_t)r);
#pragma omp barrier
            if (id == 0) {
                double a = now(), b;
                for (k = 0; k < n; k++) sum += buf[k];
                b = now();
                if (b - a < best) best = b - a;
            }
        }
    }
    printf("roundtrip_ns=%.0f xbw=%.1f%s\n", (stop - start) / trips * 1e9,
           (double)(n * sizeof(float)) / best / 1e9, sum == 1.0f ? " " : "");
    free(buf);
    return 0;
}
