                    {
                        size_t first, count;
                        while ((count = unet_claim(&next, {{COB}}, band + 1, {{COB}}, (size_t)UNET_THREADS(), &first)) > 0) {
                            UNET_OMP(omp parallel num_threads(1))
                            {{FN}}_blocks(panel, rows, out + (n * {{COUT}} * {{H}} + y0) * {{W}}, {{OUT_PLANE}}, {{W}},
                                {{FN_PAD}}    first % {{COB}}, first % {{COB}} + count);
                        }
                        band++;
                    }