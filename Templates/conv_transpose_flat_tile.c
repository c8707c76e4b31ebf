
/* Register tile of a 2x2 stride-2 transposed conv over a band whose input rows are taken as one
 * run of pixels: {{R}} output channels x {{NV}} vectors of UNET_V consecutive pixels x the 4 taps,
 * pixel i being input row i / iw, column i % iw, so a row is not rounded up to whole vectors:
 * an 18-wide map computes 18 columns a row, not 32. `p`: the panel at the tile's first pixel;
 * `w`, `pf`, `pstep`, `bias` as in the row tiles. `out`: the band's first output row of the
 * tile's first channel (channels `out_plane` floats apart, rows `out_w`); `i0`: the tile's
 * first pixel; `n`: the band's pixels (rows x iw). Input pixel (y, x) gives output pixels (2y + dy, 2x + dx): a
 * vector whose pixels lie in one row goes out as two whole vectors per row of taps (where the
 * compiler can interleave), the others pixel by pixel. */
UNET_TILE void unet_convT_flat_{{R}}x{{NV}}(const float *p, size_t cin, size_t plane, const float *w,
                                 const float *pf, size_t pstep, const float *bias, float *out,
                                 size_t out_plane, size_t out_w, size_t chans, size_t i0, size_t n,
                                 size_t iw)
{
    unet_vf acc[4][{{R}}][{{NV}}];
    ptrdiff_t at[{{NV}} * UNET_V]; /* where each lane's pixel (2y, 2x) lies in out; -1: past the band */
    size_t ci, q, r, v, l;
    for (l = 0; l < {{NV}} * UNET_V; l++) {
        size_t i = i0 + l, y = i / iw;
        at[l] = i < n ? (ptrdiff_t)(2 * y * out_w + 2 * (i - y * iw)) : -1;
    }
{{SUMS}}    /* Out of the registers through a buffer by constant indices: a loop over the lanes that
     * read acc itself would index it at run time, keeping it in memory (as in the flat conv
     * tiles). */
    {
        float res[4][{{R}}][{{NV}} * UNET_V];
        for (q = 0; q < 4; q++)
            for (r = 0; r < {{R}}; r++)
                for (v = 0; v < {{NV}}; v++) UNET_STORE(&res[q][r][v * UNET_V], acc[q][r][v]);
        for (v = 0; v < {{NV}}; v++) {
            const ptrdiff_t *a = at + v * UNET_V;
            for (r = 0; r < chans; r++)
                for (q = 0; q < 4; q += 2) {
                    float *o = out + r * out_plane + (q / 2) * out_w;
                    const float *t0 = &res[q][r][v * UNET_V], *t1 = &res[q + 1][r][v * UNET_V];
#ifdef UNET_HAVE_ZIP
                    if (a[0] >= 0 && a[UNET_V - 1] == a[0] + 2 * (UNET_V - 1)) {
                        unet_vf e = UNET_LOAD(t0), f = UNET_LOAD(t1);
                        UNET_STORE(o + a[0], UNET_ZIP_LO(e, f));
                        UNET_STORE(o + a[0] + UNET_V, UNET_ZIP_HI(e, f));
                        continue;
                    }
#endif
                    for (l = 0; l < UNET_V; l++)
                        if (a[l] >= 0) {
                            o[a[l]] = t0[l];
                            o[a[l] + 1] = t1[l];
                        }
                }
        }
    }
}
