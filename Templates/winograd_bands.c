        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread takes whole bands, the next one left whenever it is done with one (a
             * dynamic schedule: a thread on a busy core takes fewer), and packs them into a
             * scratch of its own, so no thread reads what another wrote and none waits before
             * the end. (Sharing every band moves the panel and the transformed input between the
             * cores; where that traffic is slow, the classic model's full-size layers took twice
             * as long.) A band runs in a team of one, the nested region, whose loops this thread
             * runs whole. With more threads than the {{SLOTS}} scratches, every thread works on
             * every band instead. */
            float *mine = scratch + (size_t)UNET_THREAD() * {{SLOT_FLOATS}};
            ptrdiff_t b;
            UNET_OMP(omp for schedule(dynamic, 1))
            for (b = 0; b < {{N}} * {{BANDS}}; b++) {
                n = (size_t)b / {{BANDS}};
                y0 = (size_t)b % {{BANDS}} * {{RB}};
                UNET_OMP(omp parallel num_threads(1))
                {
                    float *panel = mine, *tv = mine + {{PANEL_FLOATS}};
{{STEP}}
                }
            }
        } else 