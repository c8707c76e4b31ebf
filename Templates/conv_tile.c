
/* Register tile of a {{K}}x{{K}} conv: {{R}} output channels x {{NV}} vectors of UNET_V
 * columns of one output row, held in registers across every input channel and tap.
 * `p`: the panel at the tile's first column of the input rows it reads ({{K}} rows, `pw`
 * floats apart, planes `plane` floats apart). `w`: the tile's weights, packed
 * [ci][ky][kx][{{R}}]. Stores `chans` channels (`out_plane` apart) of `cols` columns. */
static void unet_conv{{K}}_tile_{{R}}x{{NV}}(const float *p, size_t cin, size_t plane, size_t pw,
                                     const float *w, const float *bias, int relu,
                                     float *out, size_t out_plane, size_t cols, size_t chans)
{
    unet_vf acc[{{R}}][{{NV}}];
    size_t ci, r, v, ky, kx;
    for (r = 0; r < {{R}}; r++)
        for (v = 0; v < {{NV}}; v++) acc[r][v] = UNET_SPLAT(bias[r]);
    for (ci = 0; ci < cin; ci++, p += plane)
        for (ky = 0; ky < {{K}}; ky++)
            for (kx = 0; kx < {{K}}; kx++, w += {{R}}) {
                unet_vf x[{{NV}}];
                for (v = 0; v < {{NV}}; v++) x[v] = UNET_LOAD(p + ky * pw + kx + v * UNET_V);
                for (r = 0; r < {{R}}; r++) {
                    unet_vf wr = UNET_SPLAT(w[r]);
                    for (v = 0; v < {{NV}}; v++) acc[r][v] += wr * x[v];
                }
            }
    /* Constant bounds, so acc stays in registers: a runtime index would put it in memory. */
    for (r = 0; r < {{R}}; r++)
        for (v = 0; v < {{NV}}; v++) {
            unet_vf a = acc[r][v];
            if (relu) a = UNET_RELU(a);
            if (r < chans && v * UNET_V < cols)
                UNET_STORE_PARTIAL(out + r * out_plane + v * UNET_V, a, cols - v * UNET_V);
        }
}
