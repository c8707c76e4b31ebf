
/* Helpers of the band loops that stream one layer into the next (`generate --memory min`).
 * Each runs on every thread of a parallel region. */

/* Moves rows [from, from + count) of each of `planes` panel planes (`plane` floats apart, rows
 * of `pw` floats) to rows [0, count): the rows of one band the next band reads again. Returns
 * after a barrier. */
static void unet_roll(float *panel, size_t planes, size_t plane, size_t pw, size_t from, size_t count)
{
    ptrdiff_t t;
    UNET_OMP(omp for schedule(static))
    for (t = 0; t < (ptrdiff_t)planes; t++) {
        float *p = panel + (size_t)t * plane;
        size_t i;
        for (i = 0; i < count * pw; i++) p[i] = p[from * pw + i];
    }
}

/* Zeroes rows [row, row + count) of `planes` panel planes: rows outside the map. No barrier. */
static void unet_zero_rows(float *panel, size_t planes, size_t plane, size_t pw, size_t row, size_t count)
{
    ptrdiff_t t;
    UNET_OMP(omp for schedule(static) nowait)
    for (t = 0; t < (ptrdiff_t)planes; t++) {
        float *p = panel + (size_t)t * plane + row * pw;
        size_t i;
        for (i = 0; i < count * pw; i++) p[i] = 0.0f;
    }
}
