    /* acc = bias + the sum over the input channels (conv_transpose_sums.c): row and flat
     * tiles share these FMAs in this order, so their outputs are the same bit for bit. */
    for (q = 0; q < {{TAPS}}; q++)
        for (r = 0; r < {{R}}; r++)
            for (v = 0; v < {{NV}}; v++) acc[q][r][v] = UNET_SPLAT(bias[r]);
    UNET_ROLLED for (ci = 0; ci < cin; ci++, p += plane{{NEXT_W}}) {
        unet_vf x[{{NV}}];
        if (pstep) UNET_PREFETCH(pf + ci * pstep);
        for (v = 0; v < {{NV}}; v++) x[v] = UNET_LOAD(p + v * UNET_V);
        for (q = 0; q < {{TAPS}}; q++, w += {{R}})
            for (r = 0; r < {{R}}; r++) {
                unet_vf wr = UNET_SPLAT(w[r]);
                for (v = 0; v < {{NV}}; v++) acc[q][r][v] += wr * x[v];
            }
    }
