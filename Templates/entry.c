
static float unet_arena[{{ARENA_FLOATS}}] __attribute__((aligned(64)));
{{WEIGHTS_STATE}}
int unet_run(const float *input, float *output, void *workspace)
{
    float *arena = workspace != NULL ? (float *)workspace : unet_arena;
    if (input == NULL || output == NULL) return 1;
    if ((size_t)arena % 64 != 0) return 2;{{WEIGHTS_CHECK}}
{{CALLS}}
    return 0;
}
