
/* Claims a band for one thread of a team of `nt` sharing `*next`: the first of the `per_image`
 * x `images` rows of tiles that no thread has taken yet, and after it up to `most` in all in
 * the same image; with more than one thread fewer towards the end (1 / (2 nt) of those left, at
 * least one), so that the threads finish within a short band of one another however fast each
 * runs: a thread on a core that another program keeps busy takes fewer bands. Returns how many
 * rows of tiles it took (0 when none are left) and sets `*first` to the first. */
static size_t unet_claim(size_t *next, size_t per_image, size_t images, size_t most, size_t nt,
                         size_t *first)
{
    size_t f, n;
    UNET_OMP(omp critical(unet_claim))
    {
        f = *next;
        n = per_image * images - f;
        if (nt > 1) n = (n + 2 * nt - 1) / (2 * nt);
        if (n > most) n = most;
        if (n > per_image - f % per_image) n = per_image - f % per_image;
        *next = f + n;
    }
    *first = f;
    return n;
}
