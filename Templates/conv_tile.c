
/* Register tile of a {{K}}x{{K}} conv: {{R}} output channels x {{NR}} output rows x {{NV}} vectors
 * of UNET_V columns, held in registers across one chunk of `cin` input channels and every tap;
 * each weight broadcast feeds {{NR}} x {{NV}} FMAs, each input vector {{R}}.
 * `p`: the panel at the chunk's first plane, the tile's first column and first input row (rows
 * `pw` floats apart, planes `plane` apart). `w`: the tile's weights for the chunk, packed
 * [ci][ky][kx][{{R}}]. `pf`: weights to prefetch, `pstep` floats for each input channel (a
 * slice of the next block's, UNET_PREFETCH), or none where `pstep` is 0. Starts from `bias`,
 * or where that is NULL from the partial sums `out` holds (the earlier chunks'), so a chunked
 * sum is the same FMAs in the same order as an unchunked one. Applies ReLU if `relu` (the last
 * chunk). Writes `chans` channels (`out_plane` floats apart) x `rows` rows (`out_w` apart) x
 * `cols` columns. Inlined into each band function (UNET_TILE), where its strides are
 * constants. */
UNET_TILE void unet_conv{{K}}_tile_{{R}}x{{NR}}x{{NV}}(const float *p, size_t cin, size_t plane, size_t pw,
                                        const float *w, const float *pf, size_t pstep,
                                        const float *bias, int relu, float *out,
                                        size_t out_plane, size_t out_w, size_t chans, size_t rows,
                                        size_t cols)
{
    unet_vf acc[{{R}}][{{NR}}][{{NV}}];
    size_t ci, r, o, v, ky, kx;
    /* Constant bounds throughout, so acc stays in registers: a runtime index would put it in
     * memory. Partial sums of a tile cut by the edges come through a zero-filled copy. */
    if (bias != NULL) {
        for (r = 0; r < {{R}}; r++)
            for (o = 0; o < {{NR}}; o++)
                for (v = 0; v < {{NV}}; v++) acc[r][o][v] = UNET_SPLAT(bias[r]);
    } else if (chans == {{R}} && rows == {{NR}} && cols >= {{NV}} * UNET_V) {
        for (r = 0; r < {{R}}; r++)
            for (o = 0; o < {{NR}}; o++)
                for (v = 0; v < {{NV}}; v++)
                    acc[r][o][v] = UNET_LOAD(out + r * out_plane + o * out_w + v * UNET_V);
    } else {
        float part[{{R}}][{{NR}}][{{NV}} * UNET_V];
        size_t i;
        for (r = 0; r < {{R}}; r++)
            for (o = 0; o < {{NR}}; o++)
                for (i = 0; i < {{NV}} * UNET_V; i++)
                    part[r][o][i] = r < chans && o < rows && i < cols ? out[r * out_plane + o * out_w + i] : 0.0f;
        for (r = 0; r < {{R}}; r++)
            for (o = 0; o < {{NR}}; o++)
                for (v = 0; v < {{NV}}; v++) acc[r][o][v] = UNET_LOAD(&part[r][o][v * UNET_V]);
    }
    {{ROLLED}}for (ci = 0; ci < cin; ci++, p += plane) {
        if (pstep) UNET_PREFETCH(pf + ci * pstep);
        for (ky = 0; ky < {{K}}; ky++)
            for (kx = 0; kx < {{K}}; kx++, w += {{R}}) {
                unet_vf x[{{NR}}][{{NV}}];
                for (o = 0; o < {{NR}}; o++)
                    for (v = 0; v < {{NV}}; v++) x[o][v] = UNET_LOAD(p + (o + ky) * pw + kx + v * UNET_V);
                for (r = 0; r < {{R}}; r++) {
                    unet_vf wr = UNET_SPLAT(w[r]);
                    for (o = 0; o < {{NR}}; o++)
                        for (v = 0; v < {{NV}}; v++) acc[r][o][v] += wr * x[o][v];
                }
            }
    }
    for (r = 0; r < {{R}}; r++)
        for (o = 0; o < {{NR}}; o++)
            for (v = 0; v < {{NV}}; v++) {
                unet_vf a = acc[r][o][v];
                if (relu) a = UNET_RELU(a);
                if (r < chans && o < rows && v * UNET_V < cols)
                    UNET_STORE_PARTIAL(out + r * out_plane + o * out_w + v * UNET_V, a, cols - v * UNET_V);
            }
}
