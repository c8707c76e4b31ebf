
/* Register tile of a {{K}}x{{K}} conv over a band whose panel rows are taken as one run of
 * pixels: {{R}} output channels x {{NV}} vectors of UNET_V consecutive pixels, pixel i being
 * panel row i / pw, column i % pw. Each panel row gives the {{K}} - 1 columns past the map's
 * `width` as well, computed and dropped, so a row is not rounded up to whole vectors: an 18-wide
 * map computes 20 columns a row, not 32. `p`: the panel at the chunk's first plane and at the
 * tile's first pixel; `w`, `pf`, `pstep`, `bias`, `relu` as in the row tiles. `out`: the
 * band's first row of the tile's first channel (channels `out_plane` floats apart, rows
 * `out_w`); `i0`: the tile's first pixel; `n`: the band's pixels (rows x pw). The pixels are
 * stored one by one, those outside the map skipped; a tile's {{R}} x {{NV}} x UNET_V stores
 * against the FMAs of every input channel and tap. */
UNET_TILE void unet_conv{{K}}_flat_{{R}}x{{NV}}(const float *p, size_t cin, size_t plane, size_t pw,
                                     const float *w, const float *pf, size_t pstep,
                                     const float *bias, int relu, float *out,
                                     size_t out_plane, size_t out_w, size_t chans, size_t i0,
                                     size_t n, size_t width)
{
    unet_vf acc[{{R}}][{{NV}}];
    ptrdiff_t at[{{NV}} * UNET_V]; /* where each lane's pixel lies in out; -1: dropped */
    size_t ci, r, v, l, ky, kx;
    for (l = 0; l < {{NV}} * UNET_V; l++) {
        size_t i = i0 + l, y = i / pw, x = i - y * pw;
        at[l] = i < n && x < width ? (ptrdiff_t)(y * out_w + x) : -1;
    }
    if (bias != NULL) {
        for (r = 0; r < {{R}}; r++)
            for (v = 0; v < {{NV}}; v++) acc[r][v] = UNET_SPLAT(bias[r]);
    } else {
        float part[{{R}}][{{NV}} * UNET_V];
        for (r = 0; r < {{R}}; r++)
            for (l = 0; l < {{NV}} * UNET_V; l++)
                part[r][l] = r < chans && at[l] >= 0 ? out[r * out_plane + (size_t)at[l]] : 0.0f;
        for (r = 0; r < {{R}}; r++)
            for (v = 0; v < {{NV}}; v++) acc[r][v] = UNET_LOAD(&part[r][v * UNET_V]);
    }
    for (ci = 0; ci < cin; ci++, p += plane) {
        if (pstep) UNET_PREFETCH(pf + ci * pstep);
        for (ky = 0; ky < {{K}}; ky++)
            for (kx = 0; kx < {{K}}; kx++, w += {{R}}) {
                unet_vf x[{{NV}}];
                for (v = 0; v < {{NV}}; v++) x[v] = UNET_LOAD(p + ky * pw + kx + v * UNET_V);
                for (r = 0; r < {{R}}; r++) {
                    unet_vf wr = UNET_SPLAT(w[r]);
                    for (v = 0; v < {{NV}}; v++) acc[r][v] += wr * x[v];
                }
            }
    }
    /* Out of the registers through a buffer by constant indices, and from it lane by lane: a
     * loop over the lanes that read acc itself would index it at run time, keeping it in
     * memory (the tiles ran 2-3x slower). */
    {
        float res[{{R}}][{{NV}} * UNET_V];
        for (r = 0; r < {{R}}; r++)
            for (v = 0; v < {{NV}}; v++) UNET_STORE(&res[r][v * UNET_V], relu ? UNET_RELU(acc[r][v]) : acc[r][v]);
        for (r = 0; r < chans; r++)
            for (l = 0; l < {{NV}} * UNET_V; l++)
                if (at[l] >= 0) out[r * out_plane + (size_t)at[l]] = res[r][l];
    }
}
