
/* {{CHAIN}}: one loop over bands of {{RB}} rows of {{DRIVER}}.
{{LEVELS}}
 * Scratch: {{SCRATCH_FLOATS}} floats, of which the first {{PANEL_FLOATS}} are the panels (zeroed
 * once: their halo columns stay zero); {{SLOTS}} of them, one per thread with rows of its own. */

/* Rows [ys, *end) of {{DRIVER}} in image n, a band at a time, with `scratch` the panels (zeroed
 * first if `zero`); the first band's window is computed whole, the later ones roll it. `*end`
 * may come down while the bands run, where another thread takes the rows past a band this
 * thread has not begun (unet_band_end, unet_steal; `at` NULL: it stays). Runs on every thread
 * of a parallel region. */
static void {{FN}}_rows({{PARAMS}}float *scratch, size_t n, size_t ys, size_t *at, size_t *end, int zero)
{
    size_t y0, ye;
    ptrdiff_t t;
    if (zero) {
        UNET_OMP(omp for schedule(static))
        for (t = 0; t < {{PANEL_FLOATS}}; t++) scratch[t] = 0.0f;
    }
    for (y0 = ys; (ye = unet_band_end(at, end, y0, {{RB}})) > y0; y0 += {{RB}}) {
{{STEPS}}
    }
}

static void {{FN}}({{PARAMS}}float *scratch)
{
    size_t at[{{SLOTS}}], end[{{SLOTS}}]; /* each thread's rows: begun before at, left to it before end */
    UNET_OMP(omp parallel)
    {
        size_t n, ys;
        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread takes a run of the rows of each image, its share of the {{H}} (even,
             * for the pools), with panels of its own: no thread reads what another wrote. A
             * thread whose rows run out takes the later half of the most rows another has left
             * (unet_steal), and so on, so that a thread on a core that another program keeps
             * busy holds up no other. The rows of the streamed layers around a boundary are
             * computed by both threads ({{DRIVER}}'s are not). */
            size_t me = (size_t)UNET_THREAD(), nt = (size_t)UNET_THREADS();
            float *mine = scratch + me * {{SLOT_FLOATS}};
            for (n = 0; n < {{N}}; n++) {
                ys = UNET_GROUP_SHARE({{H}}, me, nt);
                at[me] = ys;
                end[me] = UNET_GROUP_SHARE({{H}}, me + 1, nt);
                UNET_OMP(omp barrier)
                UNET_OMP(omp parallel num_threads(1))
                {{FN}}_rows({{ARGS}}mine, n, ys, &at[me], &end[me], n == 0);
                while (unet_steal(at, end, nt, me, 2 * {{RB}}, &ys))
                    UNET_OMP(omp parallel num_threads(1))
                    {{FN}}_rows({{ARGS}}mine, n, ys, &at[me], &end[me], 0);
                UNET_OMP(omp barrier)
            }
        } else {
            /* Every thread on every band. */
            size_t all = {{H}};
            for (n = 0; n < {{N}}; n++) {{FN}}_rows({{ARGS}}scratch, n, 0, NULL, &all, n == 0);
        }
    }
}
