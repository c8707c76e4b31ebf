
/* {{CHAIN}}: one loop over bands of {{RB}} rows of {{DRIVER}}.
{{LEVELS}}
 * Scratch: {{SCRATCH_FLOATS}} floats, of which the first {{PANEL_FLOATS}} are the panels (zeroed
 * once: their halo columns stay zero); {{SLOTS}} of them, one per thread with rows of its own. */

/* Rows [ys, ye) of {{DRIVER}} in each image, a band at a time, with `scratch` the panels; the
 * first band's window is computed whole, the later ones roll it. Runs on every thread of a
 * parallel region. */
static void {{FN}}_rows({{PARAMS}}float *scratch, size_t ys, size_t ye)
{
    size_t n, y0;
    ptrdiff_t t;
    UNET_OMP(omp for schedule(static))
    for (t = 0; t < {{PANEL_FLOATS}}; t++) scratch[t] = 0.0f;
    for (n = 0; n < {{N}}; n++) {
        for (y0 = ys; y0 < ye; y0 += {{RB}}) {
{{STEPS}}
        }
    }
}

static void {{FN}}({{PARAMS}}float *scratch)
{
    UNET_OMP(omp parallel)
    {
        if (UNET_THREADS() <= {{SLOTS}}) {
            /* Each thread takes a run of the rows, its share of the {{H}} (even, for the
             * pools), with panels of its own: no thread reads what another wrote and none waits
             * for another until the end. The rows of the streamed layers around a boundary are
             * computed by both threads ({{DRIVER}}'s are not). */
            size_t me = (size_t)UNET_THREAD(), nt = (size_t)UNET_THREADS();
            size_t ys = {{H}} * me / nt / 2 * 2, ye = me + 1 == nt ? {{H}} : {{H}} * (me + 1) / nt / 2 * 2;
            UNET_OMP(omp parallel num_threads(1))
            {{FN}}_rows({{ARGS}}scratch + me * {{SLOT_FLOATS}}, ys, ye);
        } else {
            /* Every thread on every band. */
            {{FN}}_rows({{ARGS}}scratch, 0, {{H}});
        }
    }
}
