                UNET_OMP(omp for schedule(static){{NOWAIT}})
                for (t = 0; t < {{C}}; t++)
                    unet_pack_plane({{PANEL}} + ((size_t)t + {{C_OFFSET}}) * {{PLANE}}, {{PW}}, {{ROWS}},
                                    {{SRC}} + n * {{SRC_BATCH}} + (size_t)t * {{SRC_PLANE}}, {{SRC_ROW}},
                                    {{Y}}, {{H}}, {{W}}, {{P}});
