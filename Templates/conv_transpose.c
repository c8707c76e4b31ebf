
/* {{NODE}}: convT2x2 stride 2({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Input rows [y0, y0 + rows) of `in` (one batch element; channels {{IN_PLANE}} floats apart,
 * rows {{IN_ROW}} apart) are packed into a {{CIN}} x rows x {{PW}} panel, then tiles of {{R}}
 * output channels x {{TW}} input columns write output rows 2 y0 ... to `out` (at output row
 * 2 y0; channels `out_plane` floats apart, rows `out_row` apart), except the first output row
 * when `skip_first` and the last when `skip_last`. Runs on every thread of a parallel region;
 * returns without a barrier. */
static void {{FN}}_band(const float *in, size_t y0, size_t rows, int skip_first, int skip_last,
                        float *out, size_t out_plane, size_t out_row, float *panel)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    ptrdiff_t t;
    UNET_OMP(omp for schedule(static))
    for (t = 0; t < {{CIN}}; t++)
        unet_pack_plane(panel + (size_t)t * {{PLANE}}, {{PW}}, rows, in + (size_t)t * {{IN_PLANE}}, {{IN_ROW}},
                        (ptrdiff_t)y0, {{IH}}, {{IW}}, 0);
    UNET_OMP(omp for schedule(static) nowait)
    for (t = 0; t < (ptrdiff_t)({{COB}} * {{Y_ROWS}} * {{XT}}); t++) {
        size_t cb = (size_t)t / ({{Y_ROWS}} * {{XT}});
        size_t y = (size_t)t / {{XT}} % {{Y_ROWS}}, xt = (size_t)t % {{XT}};
        size_t co = cb * {{R}};
        /* Tile i's slice of the next block's weights, the (i mod {{PSLICES}})th of
         * {{PSTEP}} floats a channel (0: none), into the cache while this block's tiles
         * compute (Tiling.prefetch). */
        const float *pf = weights + (cb + 1 < {{COB}} ? cb + 1 : cb) * {{WBLOCK}}
                          + (size_t)t % ({{Y_ROWS}} * {{XT}}) % {{PSLICES}} * {{CIN}} * {{PSTEP}};
{{TILE_CALL}}
    }
}
