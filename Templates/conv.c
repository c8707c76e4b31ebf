/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Tiles of {{R}} output channels x {{NR}} rows x {{TW}} columns; bands of {{RB}} output rows,
 * whose input rows are packed into a {{CIN}} x {{PROWS}} x {{PW}} panel with a zero halo of
 * {{P}}; the input channels are summed in chunks of {{KC}}, so that a chunk's weights for one
 * tile stay in L1 and its part of the panel in L2 while every tile of the band uses them. */
static void {{FN}}({{PARAMS}}float *out, float *panel)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    UNET_OMP(omp parallel)
    {
        size_t n, y0, c0;
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
                size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                size_t groups = (rows + {{NR}} - 1) / {{NR}};
                ptrdiff_t t;
{{PACK}}
                /* A static schedule over the same count gives each thread the same tiles in
                 * every chunk, so a thread only reads back partial sums it wrote itself: the
                 * chunks need no barrier between them, only before the panel is repacked. */
                for (c0 = 0; c0 < {{CIN}}; c0 += {{KC}}) {
                    size_t kc = {{CIN}} - c0 < {{KC}} ? {{CIN}} - c0 : {{KC}};
                    int first = c0 == 0, last = c0 + kc == {{CIN}};
                    UNET_OMP(omp for schedule(static) nowait)
                    for (t = 0; t < (ptrdiff_t)({{COB}} * groups * {{XT}}); t++) {
                        size_t cb = (size_t)t / (groups * {{XT}});
                        size_t y = (size_t)t / {{XT}} % groups * {{NR}}, xt = (size_t)t % {{XT}};
                        size_t co = cb * {{R}};
                        unet_conv{{K}}_tile_{{R}}x{{NR}}x{{NV}}(panel + c0 * {{PLANE}} + y * {{PW}} + xt * {{TW}}, kc,
                                                {{PLANE}}, {{PW}}, weights + cb * {{WBLOCK}} + c0 * {{KK}},
                                                first ? bias + co : NULL, {{RELU}} && last,
                                                out + ((n * {{COUT}} + co) * {{H}} + y0 + y) * {{W}} + xt * {{TW}},
                                                {{OUT_PLANE}}, {{W}}, {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}},
                                                rows - y < {{NR}} ? rows - y : {{NR}}, {{W}} - xt * {{TW}});
                    }
                }
                UNET_OMP(omp barrier)
            }
        }
    }
}
