
/* Register tile of a Winograd GEMM at one transform point: {{R}} output channels x {{NV}}
 * vectors of UNET_V tiles, summed over `cin` input channels in order:
 * mb[(r * {{NV}} + j) * UNET_V + l] = sum over ci of u[ci * {{R}} + r] * v[ci * vstride + j * UNET_V + l].
 * `pf`: the weights of the GEMM that comes next, prefetched (UNET_PREFETCH) as far ahead of
 * `u` as they lie, so that the hardware never waits on the stream of weights. */
static void unet_wino_gemm_{{R}}x{{NV}}(const float *v, size_t cin, size_t vstride, const float *u, const float *pf,
                                  float *mb)
{
    unet_vf acc[{{R}}][{{NV}}];
    size_t ci, r, j;
    for (r = 0; r < {{R}}; r++)
        for (j = 0; j < {{NV}}; j++) acc[r][j] = UNET_SPLAT(0.0f);
    for (ci = 0; ci < cin; ci++, v += vstride, u += {{R}}, pf += {{R}}) {
        unet_vf x[{{NV}}];
        UNET_PREFETCH(pf);
        for (j = 0; j < {{NV}}; j++) x[j] = UNET_LOAD(v + j * UNET_V);
        for (r = 0; r < {{R}}; r++) {
            unet_vf wr = UNET_SPLAT(u[r]);
            for (j = 0; j < {{NV}}; j++) acc[r][j] += wr * x[j];
        }
    }
    for (r = 0; r < {{R}}; r++)
        for (j = 0; j < {{NV}}; j++) UNET_STORE(mb + (r * {{NV}} + j) * UNET_V, acc[r][j]);
}
