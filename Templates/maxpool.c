
/* {{NODE}}: maxpool2x2({{INPUTS}}) -> {{OUT_SHAPE}}. */
static void {{FN}}(const float *in, float *out)
{
    ptrdiff_t p;
    UNET_OMP(omp parallel for schedule(static))
    for (p = 0; p < {{PLANES}}; p++) {
        const float *s = in + (size_t)p * {{IN_PLANE}};
        float *d = out + (size_t)p * {{OUT_PLANE}};
        size_t y, x;
        for (y = 0; y < {{OH}}; y++)
            for (x = 0; x < {{OW}}; x++) {
                const float *q = s + 2 * y * {{IW}} + 2 * x;
                d[y * {{OW}} + x] = unet_max(unet_max(q[0], q[1]), unet_max(q[{{IW}}], q[{{IW}} + 1]));
            }
    }
}
