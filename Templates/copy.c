
/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, a copy: {{PLANES}} planes of {{H}} x {{W}}
 * from a source {{SRC_ROW}} floats wide into channels from {{C_OFFSET}} of the output. */
static void {{FN}}(const float *in, float *out)
{
    ptrdiff_t p;
    UNET_OMP(omp parallel for schedule(static))
    for (p = 0; p < {{PLANES}}; p++) {
        size_t n = (size_t)p / {{C}}, c = (size_t)p % {{C}}, y, x;
        const float *restrict s = in + n * {{SRC_BATCH}} + c * {{SRC_PLANE}};
        float *restrict d = out + (n * {{OUT_C}} + {{C_OFFSET}} + c) * {{OUT_PLANE}};
        for (y = 0; y < {{H}}; y++)
            for (x = 0; x < {{W}}; x++) d[y * {{W}} + x] = s[y * {{SRC_ROW}} + x];
    }
}
