#!/usr/bin/env python3
"""fork_python: what os.fork() costs a Python program with large live buffers
that another thread keeps writing, with and without the shim. Not a test
(measurement only, not registered with ctest); run it by hand:

  python3 tests/preload/fork_python.py                          # glibc
  LD_PRELOAD=build/release/preload/libuvmalloc_preload.so \\
    python3 tests/preload/fork_python.py                        # uvmalloc

Four bytearrays of 64 MiB each, fully written. A writer thread keeps
overwriting them, 1 MiB slices round robin (write n goes to buffer n % 4,
slice 1 + (n // 4) % 63, all bytes (7n + 3) & 0xff), counting the writes it
has finished. The main thread forks 6 times; before each fork it bumps a
per-buffer generation byte (byte 0 of each buffer, in slice 0, which the
writer never touches). A slice assignment runs under the GIL, as does
os.fork(), so the child's copy of the count says which value each slice must
hold (write number count may or may not have landed). Each child checks the
generation bytes and a few pages of every buffer against that (a consistent
snapshot, none of the parent's later writes), writes a page of its own into
each buffer and reads it back, and calls os._exit(0) (1 on a mismatch). The
parent waits for each child before the next fork.

Prints the wall time of the fork loop (6 x fork + child + waitpid, with the
writer running) and "ok"; exits non-zero on any mismatch."""
import os
import sys
import threading
import time

MiB = 1 << 20
NBUF = 4
SIZE = 64 * MiB
SLICE = MiB
NSLICE = SIZE // SLICE
FORKS = 6
PAGE = 4096


def main():
    bufs = []
    for i in range(NBUF):
        b = bytearray(SIZE)
        fill = bytes([(i + 1) & 0xFF]) * SLICE
        for s in range(NSLICE):
            b[s * SLICE:(s + 1) * SLICE] = fill
        bufs.append(b)
    gen = [0] * NBUF
    for i in range(NBUF):
        bufs[i][0] = gen[i]
    fills = [bytes([v]) * SLICE for v in range(256)]
    page = bytes([0xA5]) * PAGE
    stop = threading.Event()
    done = [0]  # writes finished

    def writer():
        n = 0
        while not stop.is_set():
            i = n % NBUF
            s = 1 + (n // NBUF) % (NSLICE - 1)
            bufs[i][s * SLICE:(s + 1) * SLICE] = fills[(n * 7 + 3) & 0xFF]
            n += 1
            done[0] = n

    def allowed(i, s, c):
        """The values slice s of buffer i may hold once c writes finished."""
        base = NBUF * (s - 1) + i
        period = NBUF * (NSLICE - 1)
        vals = set()
        if c <= base:
            vals.add((i + 1) & 0xFF)
        else:
            vals.add(((base + period * ((c - 1 - base) // period)) * 7 + 3) & 0xFF)
        if c % NBUF == i and 1 + (c // NBUF) % (NSLICE - 1) == s:
            vals.add((c * 7 + 3) & 0xFF)  # write number c may have landed
        return vals

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.05)  # let the writer get going

    failures = 0
    t0 = time.monotonic()
    for k in range(FORKS):
        for i in range(NBUF):
            gen[i] = (gen[i] + 1) & 0xFF
            bufs[i][0] = gen[i]
        pid = os.fork()
        if pid == 0:
            c = done[0]
            bad = 0
            for i in range(NBUF):
                b = bufs[i]
                if b[0] != gen[i]:
                    bad += 1
                # a few pages: the first of slice 1, a middle one, the last
                for s in (1, NSLICE // 2, NSLICE - 1):
                    ok = allowed(i, s, c)
                    for off in (s * SLICE, s * SLICE + SLICE // 2,
                                (s + 1) * SLICE - PAGE):
                        if b[off] not in ok or b[off + PAGE - 1] != b[s * SLICE]:
                            bad += 1
                # a page of the child's own
                off = (k % (NSLICE - 1) + 1) * SLICE + PAGE
                b[off:off + PAGE] = page
                if b[off:off + PAGE] != page or len(b) != SIZE:
                    bad += 1
            os._exit(1 if bad else 0)
        _, status = os.waitpid(pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            failures += 1
    elapsed = time.monotonic() - t0

    stop.set()
    t.join()
    print("fork loop: %d forks in %.1f ms (writer: %d slices written)"
          % (FORKS, elapsed * 1e3, done[0]))
    if failures:
        print("FAILED: %d children saw an inconsistent snapshot" % failures)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
