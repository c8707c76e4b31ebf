
/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs.
 * Tiles of {{R}} output channels x {{TW}} columns; bands of {{RB}} output rows, whose input
 * rows are packed into a {{CIN}} x {{PROWS}} x {{PW}} panel with a zero halo of {{P}}. */
static void {{FN}}({{PARAMS}}float *out, float *panel)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    UNET_OMP(omp parallel)
    {
        size_t n, y0;
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
                size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                ptrdiff_t t;
{{PACK}}
                UNET_OMP(omp for schedule(static))
                for (t = 0; t < (ptrdiff_t)({{COB}} * rows * {{XT}}); t++) {
                    size_t cb = (size_t)t / (rows * {{XT}});
                    size_t y = (size_t)t / {{XT}} % rows, xt = (size_t)t % {{XT}};
                    size_t co = cb * {{R}};
                    unet_conv{{K}}_tile_{{R}}x{{NV}}(panel + y * {{PW}} + xt * {{TW}}, {{CIN}}, {{PLANE}}, {{PW}},
                                            weights + cb * {{WBLOCK}}, bias + co, {{RELU}},
                                            out + ((n * {{COUT}} + co) * {{H}} + y0 + y) * {{W}} + xt * {{TW}},
                                            {{OUT_PLANE}}, {{W}} - xt * {{TW}},
                                            {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}});
                }
            }
        }
    }
}
