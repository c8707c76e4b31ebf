
/* {{NODE}} on its own: a 1x1 conv needs no halo, and its input's rows are a whole number of
 * tiles wide, so its tiles read the input where it lies: bands of {{RB}} rows with no panel
 * to pack and no barrier between them. (The phase marks keep the order every direct conv's
 * bands follow; pack and wait take no time here.) */
static void {{FN}}({{PARAMS}}float *out)
{
    UNET_OMP(omp parallel)
    {
        size_t n, y0;
        UNET_PHASE("{{NODE}}", "start");
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
                size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                UNET_PHASE("{{NODE}}", "pack");
                UNET_PHASE("{{NODE}}", "wait");
                {{FN}}_band(in0 + n * {{IN_BATCH}} + y0 * {{W}}, rows, out + (n * {{COUT}} * {{H}} + y0) * {{W}},
                            {{OUT_PLANE}}, {{W}});
                UNET_PHASE("{{NODE}}", "compute");
                UNET_PHASE("{{NODE}}", "wait");
            }
        }
    }
}
