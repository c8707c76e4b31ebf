                    size_t rows = {{H}} - y0 < {{RB}} ? {{H}} - y0 : {{RB}};
                    size_t groups = (rows + {{M}} - 1) / {{M}};
                    ptrdiff_t t;
{{PACK}}
                    {{FN}}_band(panel, rows, out + (n * {{COUT}} * {{H}} + y0) * {{W}}, {{OUT_PLANE}}, {{W}}, tv);