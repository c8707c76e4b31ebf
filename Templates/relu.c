
/* {{NODE}}: relu({{INPUTS}}) -> {{OUT_SHAPE}} (unfused). */
static void {{FN}}(const float *in, float *out)
{
    ptrdiff_t i;
    UNET_OMP(omp parallel for schedule(static))
    for (i = 0; i < {{COUNT}}; i++) out[i] = in[i] > 0.0f ? in[i] : (in[i] != in[i] ? in[i] : 0.0f);
}
