
/* {{NODE}}: maxpool2x2({{INPUTS}}) -> {{OUT_SHAPE}}: `rows` output rows of the {{C}} planes of
 * one batch element, from `in` (at input row 2 y for output row y; planes {{IN_PLANE}} floats
 * apart) to `out` (at output row y). Runs on every thread of a parallel region (the planes are
 * shared out); returns after a barrier. */
static void {{FN}}_rows(const float *in, float *out, size_t rows)
{
    ptrdiff_t p;
    UNET_OMP(omp for schedule(static))
    for (p = 0; p < {{C}}; p++) {
        const float *s = in + (size_t)p * {{IN_PLANE}};
        float *d = out + (size_t)p * {{OUT_PLANE}};
        size_t y, x;
        for (y = 0; y < rows; y++)
            for (x = 0; x < {{OW}}; x++) {
                const float *q = s + 2 * y * {{IW}} + 2 * x;
                d[y * {{OW}} + x] = unet_max(unet_max(q[0], q[1]), unet_max(q[{{IW}}], q[{{IW}} + 1]));
            }
    }
}
