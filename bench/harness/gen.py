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
  perl_count.lines, perl_count.sha256  how many lines of sort.in the perl
           workload reads (400k quick, 1.5M full), and the SHA-256 of what it
           prints (computed here: word counts in byte order, distinct numbers)
  repo.git a bare git repository for `git repack -adf`: 16 files of the
           same kind of text (1 MiB each quick, 4 MiB full) over 4 / 6
           commits that each rewrite stretches of half the files, made with
           git fast-import (fixed dates, so the same objects every time);
           repo.objects is its object count, for the check after a repack

usage: gen.py quick|full DIR
"""
import collections
import hashlib
import os
import random
import shutil
import subprocess
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


def perl_count(out, lines):
    """What driver.py's perl_count prints for these first lines of sort.in."""
    words, numbers = collections.Counter(), set()
    for line in lines:
        fields = line.split()
        numbers.add(fields[-1])
        words.update(fields[:-1])
    text = b"".join(b"%s %d\n" % (w, words[w]) for w in sorted(words)) + b"%d\n" % len(numbers)
    with open(os.path.join(out, "perl_count.lines"), "w") as f:
        f.write("%d\n" % len(lines))
    with open(os.path.join(out, "perl_count.sha256"), "w") as f:
        f.write(hashlib.sha256(text).hexdigest() + "\n")


def edit(rng, pool, body):
    """The file with a few stretches rewritten and one inserted."""
    out = bytearray(body)
    for _ in range(4):
        n = rng.randint(4096, 64 * 1024)
        at = rng.randrange(0, max(1, len(out) - n))
        out[at:at + n] = text_chunk(rng, pool, n)
    at = rng.randrange(0, len(out))
    out[at:at] = text_chunk(rng, pool, rng.randint(1024, 16 * 1024))
    return bytes(out)


def git_repo(out, rng, pool, file_size, commits):
    """A bare repository made by git fast-import; returns its object count."""
    repo = os.path.join(out, "repo.git")
    shutil.rmtree(repo, ignore_errors=True)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=out)
    subprocess.run(["git", "init", "-q", "--bare", repo], check=True, env=env)
    files = [text_chunk(rng, pool, file_size) for _ in range(16)]
    p = subprocess.Popen(["git", "-C", repo, "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env)
    for c in range(commits):
        changed = range(16) if c == 0 else sorted(rng.sample(range(16), 8))
        msg = b"commit %d\n" % c
        p.stdin.write(b"commit refs/heads/main\nmark :%d\n" % (c + 1))
        p.stdin.write(b"committer gen <gen@example.org> %d +0000\n" % (1700000000 + c * 3600))
        p.stdin.write(b"data %d\n%s" % (len(msg), msg))
        if c > 0:
            p.stdin.write(b"from :%d\n" % c)
        for i in changed:
            if c > 0:
                files[i] = edit(rng, pool, files[i])
            p.stdin.write(b"M 100644 inline f%02d.txt\ndata %d\n" % (i, len(files[i])))
            p.stdin.write(files[i] + b"\n")
    p.stdin.close()
    if p.wait() != 0:
        sys.exit("gen.py: git fast-import failed")
    objects = subprocess.run(["git", "-C", repo, "rev-list", "--objects", "--all"], check=True, env=env,
                             capture_output=True).stdout.count(b"\n")
    return objects


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

    objects = git_repo(out, random.Random(11), line_pool(random.Random(12), words, 50000),
                       (4 if full else 1) * MiB, 6 if full else 4)
    with open(os.path.join(out, "repo.objects"), "w") as f:
        f.write("%d\n" % objects)

    lines = sort_input(random.Random(7), words, (100 if full else 32) * MiB)
    with open(os.path.join(out, "sort.in"), "wb") as f:
        f.write(b"".join(lines))
    perl_count(out, lines[: 1500000 if full else 400000])
    lines.sort()  # bytes order == LC_ALL=C sort order
    with open(os.path.join(out, "sort.sha256"), "w") as f:
        f.write(hashlib.sha256(b"".join(lines)).hexdigest() + "\n")


if __name__ == "__main__":
    main()
