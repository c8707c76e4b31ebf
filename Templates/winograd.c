/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs as a direct conv.
 * Winograd F({{M}}x{{M}}, 3x3). Bands of {{RB}} output rows ({{TR}} rows of {{XT}} tiles): the band's
 * input rows are packed into a {{CIN}} x {{PROWS}} x {{PW}} panel with a zero halo of 1, then
 * transformed into {{AA}} planes of {{CIN}} channels x {{TPAD}} tiles; each point's plane is
 * multiplied by the transformed weights in register tiles of {{R}} output channels x {{NV}}
 * vectors of tiles, and the {{AA}} products of a tile are transformed back, with the bias
 * and the ReLU, straight into the output. Every output element is computed by one thread. */
static void {{FN}}({{PARAMS}}float *out, float *scratch)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    float *panel = scratch, *tv = scratch + {{PANEL_FLOATS}};
    UNET_OMP(omp parallel)
    {
        float mb[{{AA}}][{{R}} * {{NV}} * UNET_V];
        size_t n, y0;
        for (n = 0; n < {{N}}; n++) {
            for (y0 = 0; y0 < {{H}}; y0 += {{RB}}) {
                size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                size_t groups = (rows + {{M}} - 1) / {{M}};
                size_t tiles = groups * {{XT}};
                size_t blocks = (tiles + {{NV}} * UNET_V - 1) / ({{NV}} * UNET_V);
                size_t vecs = blocks * {{NV}};
                ptrdiff_t t;
{{PACK}}
                /* Whole blocks of tiles are transformed, zeros past the last tile. */
                UNET_OMP(omp for schedule(static))
                for (t = 0; t < (ptrdiff_t)({{CIN}} * vecs); t++) {
                    size_t ci = (size_t)t / vecs, t0 = (size_t)t % vecs * UNET_V;
                    unet_wino{{M}}_input(tv + ci * {{TPAD}} + t0, {{CIN}} * {{TPAD}}, panel + ci * {{PLANE}}, {{PW}}, t0,
                                      t0 < tiles ? (tiles - t0 < UNET_V ? tiles - t0 : UNET_V) : 0, {{XT}});
                }
                /* No barrier after the products: the next band's packing touches only the
                 * panel, and the transformed input is rewritten only after its barrier. */
                UNET_OMP(omp for schedule(static) nowait)
                for (t = 0; t < (ptrdiff_t)(blocks * {{COB}}); t++) {
                    size_t tb = (size_t)t / {{COB}} * {{NV}} * UNET_V, co = (size_t)t % {{COB}} * {{R}};
                    size_t chans = {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, xi, r, j;
                    for (xi = 0; xi < {{AA}}; xi++)
                        unet_wino_gemm_{{R}}x{{NV}}(tv + xi * {{CIN}} * {{TPAD}} + tb, {{CIN}}, {{TPAD}},
                                              weights + (xi * {{COB}} + co / {{R}}) * {{CIN}} * {{R}}, mb[xi]);
                    for (r = 0; r < chans; r++)
                        for (j = 0; j < {{NV}} && tb + j * UNET_V < tiles; j++) {
                            size_t t0 = tb + j * UNET_V;
                            unet_wino{{M}}_output(&mb[0][(r * {{NV}} + j) * UNET_V], {{R}} * {{NV}} * UNET_V, bias[co + r], {{RELU}},
                                               out + ((n * {{COUT}} + co + r) * {{H}} + y0) * {{W}}, t0,
                                               tiles - t0 < UNET_V ? tiles - t0 : UNET_V, {{XT}}, rows, {{W}});
                        }
                }
            }
        }
    }
}
