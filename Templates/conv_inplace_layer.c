
/* {{NODE}} on its own: a 1x1 conv needs no halo, and its input's rows are a whole number of
 * tiles wide, so its tiles read the input where it lies: no panel, no packing, no barrier.
 * The whole map is one band. */
static void {{FN}}({{PARAMS}}float *out)
{
    UNET_OMP(omp parallel)
    {
        size_t n;
        UNET_PHASE("{{NODE}}", "start");
        for (n = 0; n < {{N}}; n++)
            {{FN}}_band(in0 + n * {{IN_BATCH}}, {{H}}, out + n * {{COUT}} * {{H}} * {{W}}, {{OUT_PLANE}}, {{W}});
        UNET_PHASE("{{NODE}}", "compute");
    }
}
