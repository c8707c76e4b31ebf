
/* {{NODE}} on its own: bands of {{RB}} input rows. */
static void {{FN}}(const float *in, float *out, float *panel)
{
{{CLAIM}}    UNET_OMP(omp parallel)
    {
        size_t n, y0;
{{THREAD_ROWS}}{
            for (n = 0; n < {{N}}; n++) {
                for (y0 = 0; y0 < {{IH}}; y0 += {{RB}}) {
                    size_t rows = {{IH}} - y0 < {{RB}} ? {{IH}} - y0 : {{RB}};
                    {{FN}}_band(in + n * {{IN_BATCH}}, y0, rows, 0, 0,
                                out + (n * {{COUT}} * {{OH}} + 2 * y0) * {{OW}}, {{OUT_PLANE}}, {{OW}}, panel);
                    UNET_OMP(omp barrier)
                }
            }
        }
    }
}
