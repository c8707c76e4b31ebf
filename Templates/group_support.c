
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

/* The first row of thread `me`'s share of `h` rows on `nt` threads (`me` = `nt`: the end), even
 * for the pools. Defined beforehand, it sets the shares a run starts from (tests start one
 * thread on all the rows, to see the others take theirs from it). */
#ifndef UNET_GROUP_SHARE
#define UNET_GROUP_SHARE(h, me, nt) ((me) == (nt) ? (h) : (h) * (me) / (nt) / 2 * 2)
#endif

/* The end of the rows left to a thread whose band begins at y0 (0 or less: none), and marks the
 * band's rows, up to rb, as begun (`*at`), so that no other thread takes them. With `at` NULL
 * (every thread on every band), `*end`. */
static size_t unet_band_end(size_t *at, size_t *end, size_t y0, size_t rb)
{
    size_t e;
    if (at == NULL) return *end;
    UNET_OMP(omp critical(unet_claim))
    {
        e = *end;
        *at = y0 + rb < e ? y0 + rb : e;
    }
    return e;
}

/* For thread `me` of `nt` whose rows ran out: takes the later half (from an even row, for the
 * pools) of the rows not begun of the thread that has the most left, where that is `least`
 * or more, and returns 1 with `*ys` its first row and at[me], end[me] its rows; else 0. */
static int unet_steal(size_t *at, size_t *end, size_t nt, size_t me, size_t least, size_t *ys)
{
    size_t v, most = nt, left = 0;
    int took = 0;
    UNET_OMP(omp critical(unet_claim))
    {
        for (v = 0; v < nt; v++) {
            if (v != me && end[v] > at[v] && end[v] - at[v] > left) {
                most = v;
                left = end[v] - at[v];
            }
        }
        if (most < nt && left >= least) {
            *ys = (at[most] + left / 2 + 1) / 2 * 2;
            at[me] = *ys;
            end[me] = end[most];
            end[most] = *ys;
            took = 1;
        }
    }
    return took;
}
