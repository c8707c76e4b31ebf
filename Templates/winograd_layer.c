
/* {{NODE}} on its own: bands of {{RB}} output rows, each packed into a scratch's panel
 * ({{PROWS}} rows) and computed by {{FN}}_band with the transformed input after it. */
static void {{FN}}({{PARAMS}}float *out, float *scratch)
{
    UNET_OMP(omp parallel)
    {
        size_t n, y0;
{{THREAD_BANDS}}{
            /* Every thread works on every band. No barrier after a band: the next band's
             * packing touches only the panel, and the transformed input is rewritten only after
             * that packing's barrier. */
            float *panel = scratch, *tv = scratch + {{PANEL_FLOATS}};
            for (n = 0; n < {{N}}; n++) {
                for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
{{STEP}}
                }
            }
        }
    }
}
