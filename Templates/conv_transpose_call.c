        int mask = (y == 0 && skip_first ? 0 : 1) | (y + 1 == rows && skip_last ? 0 : 2);
        unet_convT_tile_{{R}}x{{NV}}(panel + y * {{PW}} + xt * {{TW}}, {{CIN}}, {{PLANE}},
                              weights + cb * {{WBLOCK}}, pf, {{PSTEP}}, bias + co,
                              out + co * out_plane + 2 * y * out_row + 2 * xt * {{TW}},
                              out_plane, out_row, {{IW}} - xt * {{TW}},
                              {{COUT}} - co < {{R}} ? {{COUT}} - co : {{R}}, mask);