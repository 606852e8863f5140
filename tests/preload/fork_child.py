#!/usr/bin/env python3
"""fork() with a large bytearray live: after the fork the parent and the
child overwrite the same buffer at the same time, each with its own pattern,
and each checks that it sees exactly its own writes. The child first checks
that its snapshot is the pre-fork content, and allocates and frees large
objects of its own. Several rounds, each with a fresh buffer. Prints one line
per round; exits non-zero on any mismatch."""
import hashlib
import os
import sys

SIZE = 48 << 20
ROUNDS = 4


def pattern(tag, size):
    seed = hashlib.sha256(tag).digest()  # 32 bytes
    return bytearray(seed * (size // len(seed)))


def main():
    for rnd in range(ROUNDS):
        buf = bytearray(pattern(b"before-%d" % rnd, SIZE))
        before = hashlib.sha256(buf).hexdigest()
        p_mine = pattern(b"parent-%d" % rnd, SIZE)
        c_mine = pattern(b"child-%d" % rnd, SIZE)
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            status = 0
            if hashlib.sha256(buf).hexdigest() != before:
                status = 10
            os.read(go_r, 1)  # start together with the parent
            # Overwrite in pieces, interleaving with the parent's writes.
            for off in range(0, SIZE, 1 << 20):
                buf[off : off + (1 << 20)] = c_mine[off : off + (1 << 20)]
            extra = [bytes(c_mine[: (1 + i) << 20]) for i in range(8)]
            if any(e != c_mine[: len(e)] for e in extra):
                status = 11
            del extra
            if buf != c_mine:
                status = 12
            buf[:] = b""  # free the inherited block in the child
            big = bytearray(SIZE * 2)
            big[-1] = 1
            if sum(big[-4096:]) != 1:
                status = 13
            os._exit(status)
        os.close(go_r)
        os.write(go_w, b"g")
        for off in range(0, SIZE, 1 << 20):
            buf[off : off + (1 << 20)] = p_mine[off : off + (1 << 20)]
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        ok = buf == p_mine and code == 0
        print("round %d: parent %s, child exit %d" % (rnd, "ok" if buf == p_mine else "BAD", code))
        os.close(go_w)
        if not ok:
            sys.exit(1)
    print("fork: ok")


if __name__ == "__main__":
    main()
