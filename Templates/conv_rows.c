        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread claims bands of whole rows of tiles from `next`, one band at a time, and
             * packs each into a panel of its own: no thread reads what another packed, and none
             * waits until the rows run out. (Sharing every band out by output channels moves the
             * panel between the cores; in the minutes when that traffic is slow, the classic
             * model's full-size layers took 1.12-1.15x as long.) Claims take up to {{RB}} rows,
             * fewer towards the end (unet_claim), so that the threads finish within a short band
             * of each other however fast their cores run. A band is packed and computed in a
             * team of one, a nested region, whose loops this thread runs whole. With more
             * threads than the {{SLOTS}} panels, every thread works on every band. */
            size_t nt = (size_t)UNET_THREADS(), groups, first, bands = 0;
            float *mine = panel + (size_t)UNET_THREAD() * {{SLOT_FLOATS}};
            ys = {{H}};
            while ((groups = unet_claim(&next, {{GROUPS}}, {{N}}, {{CLAIM_GROUPS}}, nt, &first)) > 0) {
                size_t rows;
                if (bands++ > 0) UNET_PHASE("{{NODE}}", "wait");
                n = first / {{GROUPS}};
                y0 = first % {{GROUPS}} * {{NR}};
                rows = {{H}} - y0 < groups * {{NR}} ? {{H}} - y0 : groups * {{NR}};
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
            }
            UNET_OMP(omp barrier)
            if (bands > 0) UNET_PHASE("{{NODE}}", "wait");
        }
