        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread takes a run of whole rows of tiles, its equal share of the {{GROUPS}} of
             * each image, in bands it packs into a panel of its own: no thread reads what another
             * packed, and none waits until its rows end. (Sharing every band out by output
             * channels moves the panel between the cores; in the minutes when that traffic is
             * slow, the classic model's full-size layers took 1.12-1.15x as long.) A band is packed
             * and computed in a team of one, a nested region, whose loops this thread runs
             * whole. The rows of tiles left over when the threads' shares are equal, fewer than
             * the threads, are shared out like every band below, so that no thread computes a
             * row of tiles more than another. With more threads than the {{SLOTS}} panels, every
             * thread works on every band. */
            size_t me = (size_t)UNET_THREAD(), nt = (size_t)UNET_THREADS(), even = {{GROUPS}} / nt;
            size_t ya = even * me * {{NR}}, yb = even * (me + 1) * {{NR}};
            float *mine = panel + me * {{SLOT_FLOATS}};
            ys = even * nt * {{NR}};
            if (yb > {{H}}) yb = {{H}};
            for (n = 0; n < {{N}}; n++) {
                for (y0 = ya; y0 < yb; y0 += {{RB}}) {
                    size_t rows = yb - y0 < {{RB}} ? yb - y0 : {{RB}};
                    size_t groups = (rows + {{NR}} - 1) / {{NR}};
                    UNET_OMP(omp parallel num_threads(1))
                    {
                        ptrdiff_t t;
{{MY_PACK}}
                    }
                    UNET_PHASE("{{NODE}}", "pack");
                    UNET_PHASE("{{NODE}}", "wait");
                    UNET_OMP(omp parallel num_threads(1))
                    {{FN}}_band(mine, rows, out + (n * {{COUT}} * {{H}} + y0) * {{W}}, {{OUT_PLANE}}, {{W}});
                    UNET_PHASE("{{NODE}}", "compute");
                    if (n + 1 < {{N}} || y0 + {{RB}} < yb) UNET_PHASE("{{NODE}}", "wait");
                }
            }
            UNET_OMP(omp barrier)
            if (ya < yb) UNET_PHASE("{{NODE}}", "wait");
        }