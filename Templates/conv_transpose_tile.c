
/* Register tile of a 2x2 stride-2 transposed conv: {{R}} output channels x {{NV}} vectors of
 * UNET_V input columns x {{TAPS}} kernel taps, held in registers across every input channel.
 * `p`: the panel at the tile's first column of one input row. `w`: the tile's weights,
 * packed [ci][dy][dx][{{R}}]. `pf`: weights to prefetch, `pstep` floats for each input channel
 * (a slice of the next block's, UNET_PREFETCH), or none where `pstep` is 0. Output column
 * 2x+dx of row dy goes to out[dy * out_w + 2x + dx], for the rows dy whose bit is set in
 * `mask` (1: row 0, 2: row 1). With 2 taps the tile computes one row of them: `w` at that
 * row's taps, `out` at that row, `mask` 1. */
static void unet_convT{{ROW}}_tile_{{R}}x{{NV}}(const float *p, size_t cin, size_t plane, const float *w,
                                  const float *pf, size_t pstep, const float *bias, float *out, size_t out_plane, size_t out_w,
                                  size_t cols, size_t chans, int mask)
{
    unet_vf acc[{{TAPS}}][{{R}}][{{NV}}];
    size_t ci, q, r, v, i;
{{SUMS}}    /* Constant bounds, so acc stays in registers: a runtime index would put it in memory. The
     * two columns of a row of taps interleave into two whole vectors of output (where the
     * compiler can, and the tile is not cut by the right edge); else lane by lane. */
    for (r = 0; r < {{R}}; r++)
        for (q = 0; q < {{TAPS}}; q += 2)
            for (v = 0; v < {{NV}}; v++) {
                float *o = out + r * out_plane + (q / 2) * out_w + 2 * v * UNET_V;
                if (!(r < chans && v * UNET_V < cols && (mask >> (q / 2) & 1))) continue;
#ifdef UNET_HAVE_ZIP
                if (cols - v * UNET_V >= UNET_V) {
                    UNET_STORE(o, UNET_ZIP_LO(acc[q][r][v], acc[q + 1][r][v]));
                    UNET_STORE(o + UNET_V, UNET_ZIP_HI(acc[q][r][v], acc[q + 1][r][v]));
                    continue;
                }
#endif
                {
                    float t0[UNET_V], t1[UNET_V];
                    size_t n = cols - v * UNET_V < UNET_V ? cols - v * UNET_V : UNET_V;
                    UNET_STORE(t0, acc[q][r][v]);
                    UNET_STORE(t1, acc[q + 1][r][v]);
                    for (i = 0; i < n; i++) {
                        o[2 * i] = t0[i];
                        o[2 * i + 1] = t1[i];
                    }
                }
            }
}
