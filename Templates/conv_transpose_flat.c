
/* {{NODE}}: convT2x2 stride 2({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Input rows [y0, y0 + rows) of `in` (one batch element; channels {{IN_PLANE}} floats apart,
 * rows {{IN_ROW}} apart) are packed into a {{CIN}} x rows x {{PW}} panel, one run of pixels per
 * channel, then tiles of {{R}} output channels x {{TW}} consecutive pixels of that run write
 * output rows 2 y0 ... to `out` (at output row 2 y0; channels `out_plane` floats apart, rows
 * `out_row` apart). Flat tiles run only where the transposed conv is on its own, so the first
 * and last output rows are always written (`skip_first` and `skip_last` are 0). Runs on every
 * thread of a parallel region; returns without a barrier. */
static void {{FN}}_band(const float *in, size_t y0, size_t rows, int skip_first, int skip_last,
                        float *out, size_t out_plane, size_t out_row, float *panel)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    size_t n = rows * {{PW}}, tiles = (n + {{TW}} - 1) / {{TW}};
    ptrdiff_t t;
    (void)skip_first;
    (void)skip_last;
    UNET_OMP(omp for schedule(static))
    for (t = 0; t < {{CIN}}; t++)
        unet_pack_plane(panel + (size_t)t * {{PLANE}}, {{PW}}, rows, in + (size_t)t * {{IN_PLANE}}, {{IN_ROW}},
                        (ptrdiff_t)y0, {{IH}}, {{IW}}, 0);
    UNET_OMP(omp for schedule(static) nowait)
    for (t = 0; t < (ptrdiff_t)({{COB}} * tiles); t++) {
        size_t cb = (size_t)t / tiles, i0 = (size_t)t % tiles * {{TW}}, co = cb * {{R}};
        /* Tile i's slice of the next block's weights, the (i mod {{PSLICES}})th of
         * {{PSTEP}} floats a channel (0: none), into the cache while this block's tiles
         * compute (Tiling.prefetch). */
        const float *pf = weights + (cb + 1 < {{COB}} ? cb + 1 : cb) * {{WBLOCK}}
                          + (size_t)t % tiles % {{PSLICES}} * {{CIN}} * {{PSTEP}};
        unet_convT_flat_{{R}}x{{NV}}(panel + i0, {{CIN}}, {{PLANE}}, weights + cb * {{WBLOCK}}, pf, {{PSTEP}}, bias + co,
                              out + co * out_plane, out_plane, out_row,
                              {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, i0, n, {{PW}});
    }
}
