
/* Register tile of a 2x2 stride-2 transposed conv: {{R}} output channels x {{NV}} vectors of
 * UNET_V input columns x the 4 kernel taps, held in registers across every input channel.
 * `p`: the panel at the tile's first column of one input row. `w`: the tile's weights,
 * packed [ci][dy][dx][{{R}}]. Output column 2x+dx of row dy goes to out[dy * out_w + 2x + dx],
 * for the rows dy whose bit is set in `mask` (1: row 0, 2: row 1). */
static void unet_convT_tile_{{R}}x{{NV}}(const float *p, size_t cin, size_t plane, const float *w,
                                  const float *bias, float *out, size_t out_plane, size_t out_w,
                                  size_t cols, size_t chans, int mask)
{
    unet_vf acc[4][{{R}}][{{NV}}];
    size_t ci, q, r, v, i;
    for (q = 0; q < 4; q++)
        for (r = 0; r < {{R}}; r++)
            for (v = 0; v < {{NV}}; v++) acc[q][r][v] = UNET_SPLAT(bias[r]);
    for (ci = 0; ci < cin; ci++, p += plane) {
        unet_vf x[{{NV}}];
        for (v = 0; v < {{NV}}; v++) x[v] = UNET_LOAD(p + v * UNET_V);
        for (q = 0; q < 4; q++, w += {{R}})
            for (r = 0; r < {{R}}; r++) {
                unet_vf wr = UNET_SPLAT(w[r]);
                for (v = 0; v < {{NV}}; v++) acc[q][r][v] += wr * x[v];
            }
    }
    /* Constant bounds, so acc stays in registers: a runtime index would put it in memory. */
    for (r = 0; r < {{R}}; r++)
        for (q = 0; q < 4; q++)
            for (v = 0; v < {{NV}}; v++) {
                float t[UNET_V];
                float *o = out + r * out_plane + (q / 2) * out_w + 2 * v * UNET_V + q % 2;
                size_t n = cols - v * UNET_V < UNET_V ? cols - v * UNET_V : UNET_V;
                UNET_STORE(t, acc[q][r][v]);
                if (r < chans && v * UNET_V < cols && (mask >> (q / 2) & 1))
                    for (i = 0; i < n; i++) o[2 * i] = t[i];
            }
}
