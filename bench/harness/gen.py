#!/usr/bin/env python3
"""Generates the inputs of the real-program workloads, deterministically
(fixed seeds), into a directory:

  zstd.in  text-like lines from a small vocabulary with a few incompressible
           runs and long-distance repeats (for zstd --long); 64 MiB quick,
           200 MiB full
  xz.in    the first part of the same kind of data; 1 MiB quick, 8 MiB full
  sort.in  lines "word word ... number" in random order; just under 32 MiB
           quick, 100 MiB full
  sort.sha256  the SHA-256 of sort.in sorted by bytes (LC_ALL=C order),
           computed here, independently of sort(1)
  *.sha256 of zstd.in and xz.in, for the round-trip checks

usage: gen.py quick|full DIR
"""
import hashlib
import os
import random
import sys

MiB = 1 << 20


def vocabulary(rng, n):
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    words = set()
    while len(words) < n:
        k = rng.choice((2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10))
        words.add("".join(rng.choices(letters, weights, k=k)))
    return sorted(words)


def line_pool(rng, words, n):
    """n lines of 4..14 words, Zipf-ish word choice."""
    cum = []
    total = 0.0
    for i in range(len(words)):
        total += 1.0 / (i + 1)
        cum.append(total)
    pool = []
    for _ in range(n):
        pool.append((" ".join(rng.choices(words, cum_weights=cum, k=rng.randint(4, 14))) + "\n").encode())
    return pool


def text_chunk(rng, pool, nbytes):
    """Lines drawn from the pool, about nbytes long (lines average ~50 bytes)."""
    out = []
    size = 0
    while size < nbytes:
        batch = b"".join(rng.choices(pool, k=max(1024, (nbytes - size) // 48)))
        out.append(batch)
        size += len(batch)
    return b"".join(out)[:nbytes]


def compressible(rng, pool, nbytes):
    """Text, with a 64 KiB random run every 4 MiB and, every 8 MiB, a 1 MiB
    copy of an earlier stretch (a long-distance match)."""
    parts = []
    size = 0
    block = 4 * MiB
    history = []
    while size < nbytes:
        n = min(block, nbytes - size)
        if history and len(parts) % 2 == 1 and n > 2 * MiB:
            src = rng.choice(history)
            off = rng.randrange(0, len(src) - MiB)
            body = src[off:off + MiB] + text_chunk(rng, pool, n - MiB - 64 * 1024)
        else:
            body = text_chunk(rng, pool, n - 64 * 1024)
            history.append(body)
            if len(history) > 8:
                history.pop(0)
        body += rng.randbytes(64 * 1024)
        parts.append(body[:n])
        size += len(parts[-1])
    return b"".join(parts)


def sort_input(rng, words, nbytes):
    """Lines "w1 .. wk number" (k = 1..5), in random order."""
    prefixes = [" ".join(rng.choices(words, k=rng.randint(1, 5))).encode() for _ in range(50000)]
    lines = []
    size = 0
    while size < nbytes:
        batch = [p + b" %d\n" % rng.getrandbits(30) for p in rng.choices(prefixes, k=65536)]
        for line in batch:
            if size + len(line) > nbytes:
                return lines
            lines.append(line)
            size += len(line)
    return lines


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("quick", "full"):
        sys.exit(__doc__)
    full = sys.argv[1] == "full"
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20240611)
    words = vocabulary(rng, 3000)

    data = compressible(rng, line_pool(rng, words, 50000), (200 if full else 64) * MiB)
    with open(os.path.join(out, "zstd.in"), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "zstd.sha256"), "w") as f:
        f.write(hashlib.sha256(data).hexdigest() + "\n")

    xz = data[: (8 if full else 1) * MiB]
    with open(os.path.join(out, "xz.in"), "wb") as f:
        f.write(xz)
    with open(os.path.join(out, "xz.sha256"), "w") as f:
        f.write(hashlib.sha256(xz).hexdigest() + "\n")
    del data, xz

    lines = sort_input(random.Random(7), words, (100 if full else 32) * MiB)
    with open(os.path.join(out, "sort.in"), "wb") as f:
        f.write(b"".join(lines))
    lines.sort()  # bytes order == LC_ALL=C sort order
    with open(os.path.join(out, "sort.sha256"), "w") as f:
        f.write(hashlib.sha256(b"".join(lines)).hexdigest() + "\n")


if __name__ == "__main__":
    main()
