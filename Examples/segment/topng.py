#!/usr/bin/env python3
"""Convert binary PGM/PPM (P5/P6, maxval 255) to PNG, with the standard library alone.

    python3 topng.py IN.ppm OUT.png [--scale N]

--scale N repeats every pixel N times in each direction (nearest neighbour), to look at
small pictures.
"""

import struct
import sys
import zlib


def read_pnm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval != 255:
        sys.exit(f"{path}: only binary PGM/PPM (P5/P6) with maxval 255")
    channels = 1 if magic == b"P5" else 3
    pixels = data[pos + 1:pos + 1 + width * height * channels]
    if len(pixels) != width * height * channels:
        sys.exit(f"{path}: truncated")
    return width, height, channels, pixels


def write_png(path, width, height, channels, pixels):
    stride = width * channels
    raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    colour = 0 if channels == 1 else 2
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    args = sys.argv[1:]
    scale = 1
    if "--scale" in args:
        i = args.index("--scale")
        scale = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__.strip())
    width, height, channels, pixels = read_pnm(args[0])
    if scale > 1:
        rows = []
        for y in range(height):
            row = pixels[y * width * channels:(y + 1) * width * channels]
            wide = b"".join(row[x * channels:(x + 1) * channels] * scale for x in range(width))
            rows.extend([wide] * scale)
        pixels, width, height = b"".join(rows), width * scale, height * scale
    write_png(args[1], width, height, channels, pixels)


if __name__ == "__main__":
    main()
