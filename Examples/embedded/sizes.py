#!/usr/bin/env python3
"""Flash and RAM of a generated U-Net on Cortex-M4F and AArch64: one row per target and
vector width.

    python3 sizes.py --unetc UNETC --weights W.safetensors --height 96 --width 96 --out DIR

For each vector width and memory mode (speed, min), runs `unetc generate --algorithm direct --threads 1`
into DIR/SIZE-vW-MODE, compiles unet.c and board.c (the caller a firmware would have) with
each target's compiler at -Os with -ffunction-sections, -fdata-sections and -fstack-usage,
and reads the object files:

  flash  = text + rodata + data of unet.o (rodata is almost all the weights)
  arena  = unet.o's bss: the static arena, UNET_WORKSPACE_BYTES
  stack  = the deepest call chain from unet_run, adding each function's -fstack-usage frame
           along the calls found in the relocations
  io     = board.o's bss: the input and output arrays the application owns
  RAM    = arena + stack + io

Standard library only; the targets are skipped when their compiler is missing.
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = ["-std=c99", "-Os", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
          "-ffunction-sections", "-fdata-sections", "-fstack-usage"]
TARGETS = [
    # (name, compiler command, flags, call relocation types)
    ("cortex-m4f", ["arm-none-eabi-gcc"],
     ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], {10, 28, 29, 30, 51}),
    ("aarch64", ["clang", "--target=aarch64-linux-gnu"], ["-ffreestanding"], {282, 283}),
]


def read_elf(path):
    """Sections (name, type, flags, size, info) and, per section index, the function defined there
    and the call targets: {function: [callee names]}."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF":
        sys.exit(f"{path}: not an ELF file")
    wide, endian = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        shoff, = struct.unpack_from(endian + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)
        shfmt = endian + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(endian + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x2E)
        shfmt = endian + "IIIIIIIIII"
    headers = [struct.unpack_from(shfmt, data, shoff + i * shentsize) for i in range(shnum)]
    # (name offset, type, flags, addr, offset, size, link, info, align, entsize)

    def string(table, offset):
        start = headers[table][4] + offset
        return data[start:data.index(b"\0", start)].decode()

    sections = [dict(name=string(shstrndx, h[0]), type=h[1], flags=h[2], size=h[5], info=h[7]) for h in headers]

    symbols = []
    for h in headers:
        if h[1] != 2:                       # SHT_SYMTAB
            continue
        for i in range(h[5] // h[9]):
            at = h[4] + i * h[9]
            if wide:
                name, info, _, shndx, value, size = struct.unpack_from(endian + "IBBHQQ", data, at)
            else:
                name, value, size, info, _, shndx = struct.unpack_from(endian + "IIIBBH", data, at)
            symbols.append(dict(name=string(h[6], name), type=info & 15, shndx=shndx))
    function_in = {s["shndx"]: s["name"] for s in symbols if s["type"] == 2}     # STT_FUNC

    relocations = []   # (section the relocation applies to, symbol, type)
    for h in headers:
        if h[1] == 4 or h[1] == 9:          # SHT_RELA, SHT_REL
            for i in range(h[5] // h[9]):
                at = h[4] + i * h[9]
                if wide:
                    _, info = struct.unpack_from(endian + "QQ", data, at)
                    sym, kind = info >> 32, info & 0xFFFFFFFF
                else:
                    _, info = struct.unpack_from(endian + "II", data, at)
                    sym, kind = info >> 8, info & 0xFF
                relocations.append((h[7], symbols[sym], kind))
    return sections, function_in, relocations


def call_graph(function_in, relocations, call_types):
    graph = {}
    for section, symbol, kind in relocations:
        caller = function_in.get(section)
        if caller is None or kind not in call_types:
            continue
        # A call to a static function may name the callee's section rather than the function.
        callee = symbol["name"] or function_in.get(symbol["shndx"], "?")
        if symbol["type"] == 3:             # STT_SECTION
            callee = function_in.get(symbol["shndx"], "?")
        graph.setdefault(caller, set()).add(callee)
    return graph


def stack_usage(su_path):
    frames, dynamic = {}, []
    for line in open(su_path):
        where, size, kind = line.rstrip("\n").split("\t")
        name = where.split(":")[-1]
        frames[name] = int(size)
        if "dynamic" in kind:
            dynamic.append(name)
    return frames, dynamic


def deepest(graph, frames, root):
    """(bytes, chain, callees without a frame) of the deepest call chain from root."""
    unknown = set()
    memo = {}

    def visit(f, path):
        if f in path:
            sys.exit(f"recursion through {f}: no static stack bound")
        if f in memo:
            return memo[f]
        # gcc's .su names a clone (foo.constprop.0) without its number.
        frame = frames.get(f, frames.get(re.sub(r"\.\d+$", "", f)))
        if frame is None:
            unknown.add(f)
            return 0, [f]
        best = (0, [])
        for callee in sorted(graph.get(f, ())):
            best = max(best, visit(callee, path | {f}), key=lambda b: b[0])
        memo[f] = (frame + best[0], [f] + best[1])
        return memo[f]

    total, chain = visit(root, frozenset())
    return total, chain, sorted(unknown)


def sizes(sections):
    text = rodata = data = bss = 0
    for s in sections:
        if not s["flags"] & 2:              # SHF_ALLOC
            continue
        if s["type"] == 8:                  # SHT_NOBITS
            bss += s["size"]
        elif s["flags"] & 4:                # SHF_EXECINSTR
            text += s["size"]
        elif s["flags"] & 1:                # SHF_WRITE
            data += s["size"]
        else:
            rodata += s["size"]
    return text, rodata, data, bss


def kib(n):
    return f"{n / 1024:.1f}"


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def measure(gen, target):
    """Compiles gen/unet.c and board.c for one target; returns the row's figures."""
    name, cc, flags, call_types = target
    objdir = os.path.abspath(os.path.join(gen, name))
    os.makedirs(objdir, exist_ok=True)
    for source in [os.path.join(gen, "unet.c"), os.path.join(HERE, "board.c")]:
        obj = os.path.join(objdir, os.path.basename(source)[:-2] + ".o")
        run(cc + flags + COMMON + ["-I", os.path.abspath(gen), "-c", os.path.abspath(source), "-o", obj], cwd=objdir)
    sections, function_in, relocations = read_elf(os.path.join(objdir, "unet.o"))
    text, rodata, data, arena = sizes(sections)
    frames, dynamic = stack_usage(os.path.join(objdir, "unet.su"))
    stack, chain, unknown = deepest(call_graph(function_in, relocations, call_types), frames, "unet_run")
    board_frames, _ = stack_usage(os.path.join(objdir, "board.su"))
    stack += board_frames["board_segment_frame"]
    io = sizes(read_elf(os.path.join(objdir, "board.o"))[0])[3]
    return dict(text=text, rodata=rodata + data, flash=text + rodata + data, arena=arena, stack=stack, io=io,
                ram=arena + stack + io, chain=["board_segment_frame"] + chain, unknown=unknown, dynamic=dynamic)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unetc", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--sizes", default="96x96", help="input sizes HxW, comma separated")
    parser.add_argument("--vector-widths", default="1,4")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    targets = [t for t in TARGETS if shutil.which(t[1][0])]
    notes = [f"{t[0]}: skipped, {t[1][0]} is not installed" for t in TARGETS if t not in targets]
    print(f"{os.path.basename(args.weights)}, -Os, sizes in KiB (1024 bytes); RAM = arena + stack + io")
    header = ("target", "input", "vector", "memory", "text", "rodata", "flash", "arena", "stack B", "io", "RAM")
    print("  ".join(f"{h:>10}" for h in header))
    for size in args.sizes.split(","):
        height, width = size.split("x")
        for vector, mode in [(v, m) for v in args.vector_widths.split(",") for m in ("speed", "min")]:
            gen = os.path.join(args.out, f"{size}-v{vector}-{mode}")
            # Direct convolution: Winograd's transformed weights (1.6x to 4x larger) and its
            # per-thread tile buffers cost more flash and stack than a microcontroller has. One
            # thread: no panels per thread in the arena. 32 registers: the Cortex-M4F's FPU has 32
            # single-precision registers, AArch64 32 NEON ones, whatever machine generates.
            run([args.unetc, "generate", "--weights", args.weights, "--height", height, "--width", width,
                 "--algorithm", "direct", "--threads", "1", "--vector-width", vector, "--vector-registers", "32",
                 "--memory-mode", mode,
                 "--output-dir", gen])
            for target in targets:
                r = measure(gen, target)
                print("  ".join(f"{v:>10}" for v in (
                    target[0], size, vector, mode, kib(r["text"]), kib(r["rodata"]), kib(r["flash"]), kib(r["arena"]),
                    r["stack"], kib(r["io"]), kib(r["ram"]))), flush=True)
                what = f"{target[0]} {size} v{vector} {mode}"
                notes.append(f"deepest stack, {what}: {' > '.join(r['chain'])}")
                if r["unknown"]:
                    notes.append(f"  not counted (library, leaf): {', '.join(r['unknown'])}")
                if r["dynamic"]:
                    notes.append(f"  dynamic stack in {', '.join(r['dynamic'])}")
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
