
/* {{NODE}} on its own. */
static void {{FN}}(const float *in, float *out)
{
    UNET_OMP(omp parallel)
    {
        size_t n;
        for (n = 0; n < {{N}}; n++) {{FN}}_rows(in + n * {{IN_BATCH}}, out + n * {{OUT_BATCH}}, {{OH}});
    }
}
