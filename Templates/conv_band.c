
/* Every block of {{FN}}_blocks. */
static void {{FN}}_band(const float *panel, size_t rows, float *out, size_t out_plane, size_t out_row)
{
    {{FN}}_blocks(panel, rows, out, out_plane, out_row, 0, {{COB}});
}
