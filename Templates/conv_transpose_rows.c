        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread claims bands of the {{IH}} input rows of each image from `next`, one at
             * a time (unet_claim: {{RB}} rows, fewer towards the end), and packs them into a panel
             * of its own (as the direct convs with many rows do): no thread reads what another
             * packed, and none waits until the rows run out. A band runs in a team of one, a
             * nested region, whose loops this thread runs whole. With more threads than the
             * {{SLOTS}} panels, every thread works on every band instead. */
            size_t nt = (size_t)UNET_THREADS(), rows, first;
            float *mine = panel + (size_t)UNET_THREAD() * {{SLOT_FLOATS}};
            while ((rows = unet_claim(&next, {{IH}}, {{N}}, {{RB}}, nt, &first)) > 0) {
                n = first / {{IH}};
                y0 = first % {{IH}};
                UNET_OMP(omp parallel num_threads(1))
                {{FN}}_band(in + n * {{IN_BATCH}}, y0, rows, 0, 0,
                            out + (n * {{COUT}} * {{OH}} + 2 * y0) * {{OW}}, {{OUT_PLANE}}, {{OW}}, mine);
            }
        } else 
