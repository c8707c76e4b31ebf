                UNET_OMP(omp for schedule(static){{NOWAIT}})
                for (t = 0; t < {{C}}; t++)
                    unet_pack_plane(panel + ((size_t)t + {{C_OFFSET}}) * {{PLANE}}, {{PW}}, groups * {{NR}} + {{HALO}},
                                    {{SRC}} + n * {{SRC_BATCH}} + (size_t)t * {{SRC_PLANE}}, {{SRC_ROW}},
                                    (ptrdiff_t)y0 - {{P}}, {{H}}, {{W}}, {{P}});
