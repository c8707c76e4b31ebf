
/* {{CHAIN}}: one loop over bands of {{RB}} rows of {{DRIVER}}.
{{LEVELS}}
 * Scratch: {{SCRATCH_FLOATS}} floats, of which the first {{PANEL_FLOATS}} are the panels (zeroed
 * once: their halo columns stay zero). */
static void {{FN}}({{PARAMS}}float *scratch)
{
    UNET_OMP(omp parallel)
    {
        size_t n, y0;
        ptrdiff_t t;
        UNET_OMP(omp for schedule(static))
        for (t = 0; t < {{PANEL_FLOATS}}; t++) scratch[t] = 0.0f;
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
{{STEPS}}
            }
        }
    }
}
