
{{ARENA_DECL}}

int unet_run(const float *input, float *output, void *workspace)
{
    float *arena = workspace != NULL ? (float *)workspace : UNET_STATIC_ARENA;
    if (input == NULL || output == NULL) return 1;
    if (arena == NULL) return 4;
    if ((size_t)arena % 64 != 0) return 2;{{WEIGHTS_CHECK}}
{{CALLS}}
    return 0;
}
