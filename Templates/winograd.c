
/* {{NODE}}: {{OP}}({{INPUTS}}) -> {{OUT_SHAPE}}, {{FLOPS}} FLOPs as a direct conv.
 * Winograd F({{M}}x{{M}}, 3x3). Computes `rows` output rows from `panel` (the band's input rows,
 * {{CIN}} planes of {{PW}} floats per row, zero halo of 1) into `out` (channels `out_plane`
 * floats apart, rows `out_row` apart), {{RB}} rows ({{TR}} rows of {{XT}} tiles) at a time:
 * the input rows are transformed into `tv`, {{TPAD}} tiles in blocks of {{BW}}, each block
 * {{AA}} planes of {{CIN}} channels x {{BW}} tiles (so that a GEMM tile reads one run);
 * each point's plane is multiplied by the transformed weights in register tiles of {{R}}
 * output channels x {{NV}} vectors of tiles, and the {{AA}} products of a tile are transformed
 * back, with the bias and the ReLU, straight into the output. Every output element is computed
 * by one thread. Runs on every thread of a parallel region; returns without a barrier. */
static void {{FN}}_band(const float *panel, size_t rows, float *out, size_t out_plane, size_t out_row, float *tv)
{
    const float *weights = {{WEIGHTS}}, *bias = {{BIAS}};
    float mb[{{AA}}][{{R}} * {{NV}} * UNET_V];
    size_t s;
    for (s = 0; s < rows; s += {{RB}}) {
        size_t part = rows - s < {{RB}} ? rows - s : {{RB}};
        size_t tiles = (part + {{M}} - 1) / {{M}} * {{XT}};
        size_t blocks = (tiles + {{NV}} * UNET_V - 1) / ({{NV}} * UNET_V);
        size_t vecs = blocks * {{NV}};
        ptrdiff_t t;
        /* The products of the part before still read tv. */
        if (s > 0) {
            UNET_OMP(omp barrier)
        }
        /* Whole blocks of tiles are transformed, zeros past the last tile. */
        UNET_OMP(omp for schedule(static))
        for (t = 0; t < (ptrdiff_t)({{CIN}} * vecs); t++) {
            size_t ci = (size_t)t / vecs, t0 = (size_t)t % vecs * UNET_V;
            unet_wino{{M}}_input(tv + t0 / {{BW}} * {{BLOCK_FLOATS}} + ci * {{BW}} + t0 % {{BW}}, {{CIN}} * {{BW}},
                              panel + ci * {{PLANE}} + s * {{PW}}, {{PW}}, t0,
                              t0 < tiles ? (tiles - t0 < UNET_V ? tiles - t0 : UNET_V) : 0, {{XT}});
        }
        /* {{ORDER}} */
        UNET_OMP(omp for schedule(static) nowait)
        for (t = 0; t < (ptrdiff_t)(blocks * {{COB}}); t++) {
            size_t tb = {{TILE_BLOCK}} * {{NV}} * UNET_V, co = {{CO_BLOCK}} * {{R}};
            size_t chans = {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, xi, r, j;
            /* GEMM g reads the g-th {{CIN}} x {{R}} weights; it prefetches the next one's. */
            for (xi = 0; xi < {{AA}}; xi++) {
                size_t g = co / {{R}} * {{AA}} + xi;
                unet_wino_gemm_{{R}}x{{NV}}(tv + tb / {{BW}} * {{BLOCK_FLOATS}} + xi * {{CIN}} * {{BW}}, {{CIN}}, {{BW}},
                                      weights + g * {{CIN}} * {{R}},
                                      weights + (g + 1 < {{COB}} * {{AA}} ? g + 1 : g) * {{CIN}} * {{R}}, mb[xi]);
            }
            for (r = 0; r < chans; r++)
                for (j = 0; j < {{NV}} && tb + j * UNET_V < tiles; j++) {
                    size_t t0 = tb + j * UNET_V;
                    unet_wino{{M}}_output(&mb[0][(r * {{NV}} + j) * UNET_V], {{R}} * {{NV}} * UNET_V, bias[co + r], {{RELU}},
                                       out + (co + r) * out_plane + s * out_row, t0,
                                       tiles - t0 < UNET_V ? tiles - t0 : UNET_V, {{XT}}, part, {{W}}, out_row);
                }
        }
    }
}
