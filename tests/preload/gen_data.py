#!/usr/bin/env python3
"""Writes SIZE bytes of compressible-but-not-trivial data to PATH, quickly.

gen_data.py blob SIZE PATH   64 KiB pieces: fresh base64 text of random bytes
                             (~6 bits of entropy a byte) or a copy of an
                             earlier piece from anywhere before, often far
                             back (what zstd --long and xz's large
                             dictionaries are for), sometimes mutated.
gen_data.py lines SIZE PATH  the same cut into lines of 1 to 160 bytes, with
                             repeated stretches of text, for sort.
The output depends only on the arguments (fixed seed)."""
import base64
import random
import sys

PIECE = 64 * 1024


def blob(size, rng):
    out = bytearray()
    while len(out) < size:
        r = rng.random()
        if len(out) < 4 * PIECE or r < 0.45:
            out += base64.b64encode(rng.randbytes(PIECE * 3 // 4))
        else:
            start = rng.randrange(0, len(out) - PIECE)
            piece = bytearray(out[start : start + PIECE])
            if r < 0.7:  # a few point mutations
                for _ in range(8):
                    piece[rng.randrange(PIECE)] = 65 + rng.randrange(26)
            out += piece
    del out[size:]
    return out


def lines(size, rng):
    text = blob(size, rng)
    # Newlines at random places: cut points drawn in bulk, line lengths 1..160.
    pos = 0
    n = len(text)
    lengths = rng.choices(range(1, 161), k=n // 40 + 16)
    i = 0
    while True:
        if i == len(lengths):
            lengths += rng.choices(range(1, 161), k=4096)
        pos += lengths[i]
        i += 1
        if pos >= n:
            break
        text[pos] = 10
    text[-1] = 10
    return text


def main():
    mode, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(12345)
    data = blob(size, rng) if mode == "blob" else lines(size, rng)
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
