        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread takes a run of the {{IH}} input rows of each image, in bands it packs into
             * a panel of its own (as the direct convs with many rows do): no thread reads what
             * another packed, and none waits until the layer ends. A band runs in a team of one,
             * a nested region, whose loops this thread runs whole. With more threads than the
             * {{SLOTS}} panels, every thread works on every band instead. */
            size_t me = (size_t)UNET_THREAD(), nt = (size_t)UNET_THREADS();
            size_t ya = {{IH}} * me / nt, yb = {{IH}} * (me + 1) / nt;
            float *mine = panel + me * {{SLOT_FLOATS}};
            for (n = 0; n < {{N}}; n++) {
                for (y0 = ya; y0 < yb; y0 += {{RB}}) {
                    size_t rows = yb - y0 < {{RB}} ? yb - y0 : {{RB}};
                    UNET_OMP(omp parallel num_threads(1))
                    {{FN}}_band(in + n * {{IN_BATCH}}, y0, rows, 0, 0,
                                out + (n * {{COUT}} * {{OH}} + 2 * y0) * {{OW}}, {{OUT_PLANE}}, {{OW}}, mine);
                }
            }
        } else 