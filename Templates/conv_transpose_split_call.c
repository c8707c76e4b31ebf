        /* Output row y of the band: input row y / 2, the taps of row y % 2 of the kernel. */
        if ((y == 0 && skip_first) || (y + 1 == 2 * rows && skip_last)) continue;
        unet_convT_row_tile_{{R}}x{{NV}}(panel + y / 2 * {{PW}} + xt * {{TW}}, {{CIN}}, {{PLANE}},
                                  weights + cb * {{WBLOCK}} + y % 2 * {{ROW_TAPS}}, pf, {{PSTEP}}, bias + co,
                                  out + co * out_plane + y * out_row + 2 * xt * {{TW}},
                                  out_plane, out_row, {{IW}} - xt * {{TW}},
                                  {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, 1);