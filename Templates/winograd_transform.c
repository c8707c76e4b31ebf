
/* Winograd F({{M}}x{{M}}, 3x3) transforms, vectorised over UNET_V tiles: lane l is tile t0 + l
 * of a band, at tile row (t0 + l) / xt and tile column (t0 + l) % xt. The {{A}}x{{A}} points of
 * the transform domain are numbered xi = i * {{A}} + j. */

/* Input transform B^T d B of the {{A}}x{{A}} patches of `lanes` (at most UNET_V) tiles of one
 * channel's panel plane `p` (rows `pw` floats apart, zero halo included), written to
 * v[xi * vstride + l]; lanes past `lanes` get zeros. */
static void unet_wino{{M}}_input(float *v, size_t vstride, const float *p, size_t pw, size_t t0,
                              size_t lanes, size_t xt)
{
    float d[{{A}}][{{A}}][UNET_V];
    unet_vf x[{{A}}][{{A}}], t[{{A}}][{{A}}];
    size_t i, j, l;
    int loaded = 0;
    if (lanes == UNET_V && t0 % xt + UNET_V <= xt) {
        /* All the lanes in one tile row: point (i, j) of lane l is s[i * pw + l * {{M}} + j]. */
        const float *s = p + t0 / xt * {{M}} * pw + t0 % xt * {{M}};
#ifdef UNET_HAVE_ZIP
        /* Each patch row's {{M}} x UNET_V + 2 floats in {{M}} + 1 vector loads, dealt out to the
         * points by shuffles (compilers turn the strided copy below into gathers, slow on
         * some CPUs). */
        for (i = 0; i < {{A}}; i++) {
            const float *r = s + i * pw;
{{INPUT_SHUFFLES}}
        }
        loaded = 1;
#else
        for (i = 0; i < {{A}}; i++)
            for (l = 0; l < UNET_V; l++)
                for (j = 0; j < {{A}}; j++) d[i][j][l] = s[i * pw + l * {{M}} + j];
#endif
    } else for (l = 0; l < UNET_V; l++) {
        if (l < lanes) {
            const float *s = p + (t0 + l) / xt * {{M}} * pw + (t0 + l) % xt * {{M}};
            for (i = 0; i < {{A}}; i++)
                for (j = 0; j < {{A}}; j++) d[i][j][l] = s[i * pw + j];
        } else {
            for (i = 0; i < {{A}}; i++)
                for (j = 0; j < {{A}}; j++) d[i][j][l] = 0.0f;
        }
    }
    if (!loaded)
        for (i = 0; i < {{A}}; i++)
            for (j = 0; j < {{A}}; j++) x[i][j] = UNET_LOAD(d[i][j]);
    /* t = B^T x, column by column; then each row of t times B. */
    for (j = 0; j < {{A}}; j++) {
{{INPUT_ROWS}}
    }
    for (i = 0; i < {{A}}; i++) {
        float *o = v + i * {{A}} * vstride;
{{INPUT_COLS}}
    }
}

/* Output transform A^T M A of one output channel of `lanes` tiles, M at mb[xi * mstride + l],
 * plus `bias`, then ReLU if `relu`; writes each tile's {{M}}x{{M}} outputs to `out` (the band's
 * first row, rows `stride` floats apart), cut at `rows` rows and `w` columns. */
static void unet_wino{{M}}_output(const float *mb, size_t mstride, float bias, int relu, float *out,
                               size_t t0, size_t lanes, size_t xt, size_t rows, size_t w, size_t stride)
{
    float y[{{M}}][{{M}}][UNET_V];
    unet_vf x[{{A}}][{{A}}], s[{{M}}][{{A}}], o[{{M}}];
    size_t i, j, l;
    for (i = 0; i < {{A}}; i++)
        for (j = 0; j < {{A}}; j++) x[i][j] = UNET_LOAD(mb + (i * {{A}} + j) * mstride);
    /* s = A^T x, column by column; then each row of s times A. */
    for (j = 0; j < {{A}}; j++) {
{{OUTPUT_ROWS}}
    }
    for (i = 0; i < {{M}}; i++) {
{{OUTPUT_COLS}}
        for (j = 0; j < {{M}}; j++) {
            unet_vf a = o[j] + UNET_SPLAT(bias);
            if (relu) a = UNET_RELU(a);
            UNET_STORE(y[i][j], a);
        }
    }
    if (lanes == UNET_V && t0 % xt + UNET_V <= xt && (t0 % xt + UNET_V) * {{M}} <= w && t0 / xt * {{M}} + {{M}} <= rows) {
        /* Whole tiles of one tile row: constant bounds, stored row by row. */
        float *o = out + t0 / xt * {{M}} * stride + t0 % xt * {{M}};
#ifdef UNET_HAVE_ZIP
        /* Each output row's {{M}} vectors (one per column of the tiles) interleaved by zips
         * into {{M}} whole vectors of the row. */
        for (i = 0; i < {{M}}; i++) {
            float *row = o + i * stride;
{{OUTPUT_ZIPS}}
        }
#else
        for (i = 0; i < {{M}}; i++)
            for (l = 0; l < UNET_V; l++)
                for (j = 0; j < {{M}}; j++) o[i * stride + l * {{M}} + j] = y[i][j][l];
#endif
        return;
    }
    for (l = 0; l < lanes; l++) {
        size_t ty = (t0 + l) / xt * {{M}}, tx = (t0 + l) % xt * {{M}};
        for (i = 0; i < {{M}} && ty + i < rows; i++)
            for (j = 0; j < {{M}} && tx + j < w; j++) out[(ty + i) * stride + tx + j] = y[i][j][l];
    }
}
