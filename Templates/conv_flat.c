
/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Tiles of {{R}} output channels x {{TW}} consecutive pixels of a band's rows taken as one run:
 * the band's input rows are packed in a panel of {{CIN}} planes of {{PW}} floats per row (zero
 * halo of {{P}}), and a row of {{PW}} pixels gives {{W}} outputs and {{PAD_COLS}} dropped ones. The
 * input channels are summed in chunks of {{KC}}. Computes `rows` output rows from `panel` (at
 * the band's first input row) into `out` (at the band's first row, channels `out_plane` floats
 * apart, rows `out_row` apart), the blocks of {{R}} output channels [cb0, cb1) of the {{COB}}.
 * Runs on every thread of a parallel region; returns without a barrier. */
static void {{FN}}_blocks(const float *panel, size_t rows, float *out, size_t out_plane, size_t out_row,
{{FN_PAD}}                size_t cb0, size_t cb1)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    size_t n = rows * {{PW}}, tiles = (n + {{TW}} - 1) / {{TW}}, c0;
    ptrdiff_t t;
    /* A static schedule over the same count gives each thread the same tiles in every chunk,
     * so a thread only reads back partial sums it wrote itself: the chunks need no barrier. */
    for (c0 = 0; c0 < {{CIN}}; c0 += {{KC}}) {
        size_t kc = {{CIN}} - c0 < {{KC}} ? {{CIN}} - c0 : {{KC}};
        int first = c0 == 0, last = c0 + kc == {{CIN}};
        UNET_OMP(omp for schedule(static) nowait)
        for (t = 0; t < (ptrdiff_t)((cb1 - cb0) * tiles); t++) {
            size_t cb = cb0 + (size_t)t / tiles, i0 = (size_t)t % tiles * {{TW}}, co = cb * {{R}};
            /* Tile i's slice of the next block's weights for this chunk, the (i mod {{PSLICES}})th of
             * {{PSTEP}} floats a channel (0: none), into the cache while this block's tiles
             * compute (Tiling.prefetch). */
            const float *pf = weights + (cb + 1 < cb1 ? cb + 1 : cb) * {{WBLOCK}} + c0 * {{KK}}
                              + (size_t)t % tiles % {{PSLICES}} * kc * {{PSTEP}};
            unet_conv{{K}}_flat_{{R}}x{{NV}}(panel + c0 * {{PLANE}} + i0, kc, {{PLANE}}, {{PW}},
                                  weights + cb * {{WBLOCK}} + c0 * {{KK}}, pf, {{PSTEP}},
                                  first ? bias + co : NULL,
                                  {{RELU}} && last, out + co * out_plane, out_plane, out_row,
                                  {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, i0, n, {{W}});
        }
    }
}
{{BAND_WRAPPER}}