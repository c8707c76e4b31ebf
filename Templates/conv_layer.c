
/* {{NODE}} on its own: bands of {{RB}} output rows, each packed ({{PROWS}} rows of the panel)
 * and then computed by {{FN}}_band. */
static void {{FN}}({{PARAMS}}float *out, float *panel)
{
{{CLAIM}}    UNET_OMP(omp parallel)
    {
        size_t n, y0, ys = 0{{BAND_DECL}};
        UNET_PHASE("{{NODE}}", "start");
{{THREAD_ROWS}}
        {
            /* Every thread on every band from row ys on: packing a band's channels between
             * them, then computing its tiles between them.{{SHARED_HOW}} */
            for (n = 0; n < {{N}}; n++) {
                for (y0 = ys; y0 < {{H}}; y0 += {{RB}}) {
                    size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                    size_t groups = (rows + {{NR}} - 1) / {{NR}};
                    ptrdiff_t t;
{{PACK}}
                    UNET_PHASE("{{NODE}}", "pack");
                    UNET_OMP(omp barrier)
                    UNET_PHASE("{{NODE}}", "wait");
{{SHARED_COMPUTE}}
                    UNET_PHASE("{{NODE}}", "compute");
                    UNET_OMP(omp barrier)
                    UNET_PHASE("{{NODE}}", "wait");
                }
            }
        }
    }
}
