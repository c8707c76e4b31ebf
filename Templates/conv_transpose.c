
/* {{NODE}}: convT2x2 stride 2({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Tiles of {{R}} output channels x {{TW}} input columns; bands of {{RB}} input rows packed
 * into a {{CIN}} x {{RB}} x {{PW}} panel. */
static void {{FN}}(const float *in, float *out, float *panel)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    UNET_OMP(omp parallel)
    {
        size_t n, y0;
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{IH}}; y0 += {{RB}}) {
                size_t rows = {{IH}} - y0 < {{RB}} ? {{IH}} - y0 : {{RB}};
                ptrdiff_t t;
                UNET_OMP(omp for schedule(static))
                for (t = 0; t < {{CIN}}; t++)
                    unet_pack_plane(panel + (size_t)t * {{PLANE}}, {{PW}}, rows,
                                    in + n * {{IN_BATCH}} + (size_t)t * {{IN_PLANE}}, {{IW}},
                                    (ptrdiff_t)y0, {{IH}}, {{IW}}, 0);
                UNET_OMP(omp for schedule(static))
                for (t = 0; t < (ptrdiff_t)({{COB}} * rows * {{XT}}); t++) {
                    size_t cb = (size_t)t / (rows * {{XT}});
                    size_t y = (size_t)t / {{XT}} % rows, xt = (size_t)t % {{XT}};
                    size_t co = cb * {{R}};
                    unet_convT_tile_{{R}}x{{NV}}(panel + y * {{PW}} + xt * {{TW}}, {{CIN}}, {{PLANE}},
                                          weights + cb * {{WBLOCK}}, bias + co,
                                          out + ((n * {{COUT}} + co) * {{OH}} + 2 * (y0 + y)) * {{OW}} + 2 * xt * {{TW}},
                                          {{OUT_PLANE}}, {{OW}}, {{IW}} - xt * {{TW}},
                                          {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}});
                }
            }
        }
    }
}
