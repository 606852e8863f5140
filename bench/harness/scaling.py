#!/usr/bin/env python3
"""Thread scaling: runs workloads/thread_scaling.c under every allocator and
writes scaling.md and scaling.csv.

One run is one process sweeping every scenario over 1, 2, 4, ... nproc and
2 x nproc threads (the workload picks the counts from the CPUs it may use),
under one allocator: nothing preloaded for glibc, LD_PRELOAD of Debian's
jemalloc, mimalloc and tcmalloc (as driver.py loads them), and uvmalloc's
shim from --build-dir. In repetition r the allocators run in an order
rotated by r. Figures are medians over the repetitions; the ratio is a
thread count's median over the 1-thread median. A failed run (non-zero
exit, a missing point) stops the script with a non-zero exit.

  python3 bench/harness/scaling.py --build-dir build/release
  python3 bench/harness/scaling.py --build-dir DIR --only uvmalloc,mimalloc \\
      --scenarios alloc_bound,cross_thread --reps 3 --out /tmp/scaling
  python3 bench/harness/scaling.py --build-dir DIR --only uvmalloc \\
      --extra uvmalloc-old=OLD/preload/libuvmalloc_preload.so    # two builds, alternating
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from driver import ALLOCATORS, clean_env, fail, machine, sh  # noqa: E402

POINT = re.compile(r"^scenario=(\S+) threads=(\d+) ops_per_s=(\S+) ops=(\d+) secs=(\S+) cpus=(\S+)$")

# What each scenario is, in the order the workload runs them.
SCENARIOS = [
    ("alloc_bound", "16 live blocks a thread, 128 KiB..2 MiB; free one, allocate one of its size; "
                    "first and last bytes touched (issue 13's allocator-bound loop)"),
    ("alloc_bound_touch", "the same with every page written and checked"),
    ("alloc_bound_resize", "alloc_bound with a new random size for every allocation"),
    ("cross_thread", "N/2 producer/consumer pairs, a 16-block lock-free ring each: one thread "
                     "allocates, the other checks and frees (1 thread: both, 8 in flight)"),
    ("fix_size_alloc_test", "lib/test_vmalloc.c on N workers (kernel page -> 128 KiB unit U): malloc(3U)"),
    ("full_fit_alloc_test", "512 kept U pairs a worker (fewer above 16 workers), every second freed, then U in the holes"),
    ("long_busy_list_alloc_test", "1,000 live U a worker (fewer above 16 workers), then malloc(100U) + malloc(U)"),
    ("random_size_alloc_test", "malloc((1..100)U)"),
    ("fix_align_alloc_test", "aligned_alloc(1 MiB, 5U)"),
    ("random_size_align_alloc_test", "aligned_alloc(1 << (r % 23), (r % 10 + 1)U)"),
]

# Issue 13's targets for uvmalloc: (scenario, what, check(stats) -> (measured text, met)).
TARGETS = [
    ("alloc_bound", "2T / 1T >= 1.8", lambda s: ratio_target(s, "alloc_bound", 2, 1.8)),
    ("alloc_bound", "2T >= mimalloc's 2T", lambda s: peer_target(s, "alloc_bound", 2, "mimalloc")),
    ("cross_thread", "2T / 1T >= 1.6", lambda s: ratio_target(s, "cross_thread", 2, 1.6)),
    ("alloc_bound", "nproc T / 1T >= 12 (16 cores)", lambda s: nproc_target(s, "alloc_bound", 16, 12.0)),
]


def ratio_target(st, scen, t, want):
    r = st.ratio("uvmalloc", scen, t)
    return (None, False) if r is None else (f"{r:.2f}", r >= want)


def peer_target(st, scen, t, peer):
    u, p = st.median("uvmalloc", scen, t), st.median(peer, scen, t)
    if u is None or p is None:
        return None, False
    return f"{fmt_ops(u)} vs {fmt_ops(p)} ({u / p:.2f}x)", u >= p


def nproc_target(st, scen, cores, want):
    if st.nproc < cores:
        return None, False
    r = st.ratio("uvmalloc", scen, st.nproc)
    return (None, False) if r is None else (f"{r:.2f} at {st.nproc} threads", r >= want)


def fmt_ops(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} K"
    return f"{x:.0f}"


def compile_workload(work):
    exe = os.path.join(work, "thread_scaling")
    src = os.path.join(HERE, "workloads", "thread_scaling.c")
    r = subprocess.run(["gcc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-pthread", "-o", exe, src, "-lm"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("gcc thread_scaling.c failed:\n" + r.stderr)
    return exe


def allocators(args):
    wanted = args.only.split(",") if args.only else [a for a, _, _ in ALLOCATORS]
    unknown = set(wanted) - {a for a, _, _ in ALLOCATORS}
    if unknown:
        fail(f"unknown allocator(s) {', '.join(sorted(unknown))}")
    out = []
    for name, lib, _ in ALLOCATORS:
        if name not in wanted:
            continue
        lib = args.shim if lib is None else lib.format(shim=args.shim)  # a chain names the shim first
        missing = [part for part in lib.split(":") if lib and not os.path.isfile(part)]
        if missing:
            if args.skip_missing:
                print(f"scaling: {name} skipped, {missing[0]} not found", flush=True)
                continue
            fail(f"{name}: {missing[0]} not found (scripts/setup.sh installs the peers; --skip-missing "
                 "leaves them out)")
        out.append((name, lib))
    for extra in args.extra:
        name, _, lib = extra.partition("=")
        if not name or not os.path.isfile(lib):
            fail(f"--extra {extra}: wants NAME=LIBRARY, an existing file")
        out.append((name, os.path.abspath(lib)))
    if not out:
        fail("no allocator to run")
    return out


def run_one(args, rep, slot, aname, lib):
    cmd = [args.bin, args.mode]
    if args.threads:
        cmd.append("threads=" + args.threads)
    if args.scenarios:
        cmd.append("scenarios=" + args.scenarios)
    env = clean_env()
    if lib:
        env["LD_PRELOAD"] = lib
    where = f"allocator {aname}, repetition {rep + 1}"
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail(f"{where}: no exit after {args.timeout} s\ncommand: {' '.join(cmd)}")
    if r.returncode != 0:
        fail(f"{where}: exit status {r.returncode}\ncommand: {' '.join(cmd)}\nLD_PRELOAD={lib}\n"
             f"stderr (tail):\n{r.stderr[-3000:]}")
    rows, points, nproc = [], None, None
    for line in r.stdout.splitlines():
        m = POINT.match(line)
        if m:
            rows.append({"mode": args.mode, "rep": rep + 1, "slot": slot + 1, "allocator": aname,
                         "scenario": m[1], "threads": int(m[2]), "ops_per_s": float(m[3]),
                         "ops": int(m[4]), "secs": float(m[5]), "cpus": float(m[6])})
        elif line.startswith("points="):
            points = int(line[7:])
        elif line.startswith("nproc="):
            nproc = int(line[6:])
    if points is None or points != len(rows) or not rows:
        fail(f"{where}: {len(rows)} points in the output, the workload announced {points}\n"
             f"stdout (tail):\n{r.stdout[-2000:]}")
    return rows, nproc


class Stats:
    """Medians per (allocator, scenario, threads)."""

    def __init__(self, rows, allocs, nproc):
        self.allocs = allocs
        self.nproc = nproc
        self.by = {}
        for r in rows:
            self.by.setdefault((r["allocator"], r["scenario"], int(r["threads"])), []).append(float(r["ops_per_s"]))
        self.threads = sorted({t for _, _, t in self.by})
        # One thread keeps one CPU busy unless another process takes it.
        ones = [r for r in rows if int(r["threads"]) == 1]
        self.starved = (sum(1 for r in ones if float(r["cpus"]) < 0.9), len(ones))
        seen = {s for _, s, _ in self.by}
        self.scenarios = [s for s, _ in SCENARIOS if s in seen] + sorted(seen - {s for s, _ in SCENARIOS})

    def median(self, a, s, t):
        xs = self.by.get((a, s, t))
        return statistics.median(xs) if xs else None

    def ratio(self, a, s, t):
        one, n = self.median(a, s, 1), self.median(a, s, t)
        return n / one if one and n is not None else None

    def spread(self, a, s):
        """Worst (max - min) / median over the thread counts."""
        worst = 0.0
        for t in self.threads:
            xs = self.by.get((a, s, t))
            if xs and statistics.median(xs) > 0:
                worst = max(worst, (max(xs) - min(xs)) / statistics.median(xs))
        return worst

    def table(self, s):
        """Header and rows of scenario s: ops/s per thread count, then the ratios to 1 thread."""
        more = [t for t in self.threads if t > 1]
        head = ["allocator"] + [f"{t}T" for t in self.threads] + [f"{t}T/1T" for t in more] + ["spread"]
        body = []
        for a in self.allocs:
            if not any((a, s, t) in self.by for t in self.threads):
                continue
            cells = [a]
            for t in self.threads:
                m = self.median(a, s, t)
                cells.append(fmt_ops(m) if m is not None else "")
            for t in more:
                r = self.ratio(a, s, t)
                cells.append(f"{r:.2f}" if r is not None else "")
            cells.append(f"{self.spread(a, s) * 100:.0f}%")
            body.append(cells)
        return head, body


def md_table(head, body, bold_row=None):
    out = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for cells in body:
        if cells[0] == bold_row:
            cells = [f"**{cells[0]}**"] + cells[1:]
        out.append("| " + " | ".join(cells) + " |")
    return out


def write_csv(rows, info, path):
    cols = ["mode", "rep", "slot", "allocator", "scenario", "threads", "ops", "secs", "ops_per_s", "cpus"]
    with open(path, "w", newline="") as f:
        for k, v in info:
            f.write(f"# {k}: {v}\n")
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.0f}" if k == "ops_per_s" else r[k]) for k in cols})


def write_md(st, info, args, path):
    d = dict(info)
    L = [f"# Thread scaling ({args.mode} mode)\n",
         f"Generated by `{d['command']}` ({d['runs']} of runs); the same command regenerates it.\n",
         "| machine | |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in info if k not in ("command", "runs")]
    window = "200 ms after a 50 ms warm-up" if args.mode == "quick" else "1 s after a 100 ms warm-up"
    L += ["",
          "Each run is one process that sweeps every scenario over the thread counts under one "
          "allocator; in repetition *r* the allocators run in an order rotated by *r*. A point is "
          f"the operations all threads completed in a window of {window}, counted by the workload "
          "itself (`bench/harness/workloads/thread_scaling.c`), over the window's length. Cells "
          "are medians over the repetitions; *N*T/1T is the *N*-thread median over the 1-thread "
          "median (N would be perfect scaling up to the "
          f"{st.nproc} CPUs the workload could use); counts above {st.nproc} are oversubscribed. "
          "Spread: the largest (max − min) / median of the row's points. Every block is checked "
          "(tags at both ends, or in every page for alloc_bound_touch) and a corrupted one fails "
          "the run.\n",
          f"Interference: {st.starved[0]} of {st.starved[1]} one-thread points kept less than 0.9 of "
          "a CPU busy (the `cpus` column of scaling.csv: CPU time over the window), i.e. another "
          "process took the CPU during them" + (" — read the ratios with that in mind." if st.starved[0]
                                                  else ".") + "\n"]
    if "uvmalloc" in st.allocs:
        L += ["## Issue 13's targets for uvmalloc\n", "| scenario | target | measured | verdict |",
              "|---|---|---|---|"]
        for scen, what, check in TARGETS:
            if scen not in st.scenarios:
                continue
            got, met = check(st)
            L.append(f"| {scen} | {what} | {got or '— (not measured here)'} | "
                     f"{'met' if met else ('missed' if got else '—')} |")
        L.append("")
    for s in st.scenarios:
        what = dict(SCENARIOS).get(s, "")
        L.append(f"## {s}\n")
        if what:
            L.append(what[0].upper() + what[1:] + ". Operations per second, all threads together.\n")
        head, body = st.table(s)
        L += md_table(head, body, bold_row="uvmalloc")
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def print_summary(st):
    for s in st.scenarios:
        head, body = st.table(s)
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        print(f"\n{s}")
        for r in [head] + body:
            print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True, help="build directory holding preload/libuvmalloc_preload.so")
    ap.add_argument("--mode", choices=("quick", "full"), default="quick")
    ap.add_argument("--reps", type=int, help="repetitions (default 3 quick, 5 full)")
    ap.add_argument("--only", help="comma-separated allocators (glibc,jemalloc,mimalloc,tcmalloc,uvmalloc,uvmalloc+mimalloc,uvmalloc+jemalloc)")
    ap.add_argument("--scenarios", help="comma-separated scenarios (default: all)")
    ap.add_argument("--threads", help="comma-separated thread counts (default: 1, 2, 4, ... nproc, 2 x nproc)")
    ap.add_argument("--bin", help="a built thread_scaling (default: compiled here with gcc -O2)")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "results"),
                    help="where scaling.md and scaling.csv go (default bench/results)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=LIB",
                    help="one more allocator to preload, e.g. another build's shim (repeatable)")
    ap.add_argument("--skip-missing", action="store_true", help="leave out peers whose library is not installed")
    ap.add_argument("--no-build", action="store_true", help="do not bring the shim up to date first")
    ap.add_argument("--timeout", type=float, help="seconds a run may take (default 120 quick, 600 full)")
    ap.add_argument("--command", help="the command line recorded in the results")
    args = ap.parse_args()
    args.reps = args.reps or (3 if args.mode == "quick" else 5)
    args.timeout = args.timeout or (120 if args.mode == "quick" else 600)
    args.build_dir = os.path.abspath(args.build_dir)
    args.shim = os.path.join(args.build_dir, "preload", "libuvmalloc_preload.so")
    args.repo = os.path.abspath(os.path.join(HERE, "..", ".."))
    args.command = args.command or "python3 bench/harness/scaling.py " + " ".join(sys.argv[1:])
    if not args.no_build and os.path.isfile(os.path.join(args.build_dir, "CMakeCache.txt")):
        r = subprocess.run(["cmake", "--build", args.build_dir, "--target", "uvmalloc_preload"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail("building the shim failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])

    allocs = allocators(args)
    load = float(sh("cut -d' ' -f1 /proc/loadavg") or 0)
    if load > 0.5:
        print(f"scaling: warning: load average {load:.2f} before the first run; whatever else runs "
              "takes CPUs from the threads and the ratios will read low", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="uvm-scaling.") as work:
        if not args.bin:
            args.bin = compile_workload(work)
        info = machine(args)
        print(f"scaling: {len(allocs)} allocators x {args.reps} repetitions ({args.mode})", flush=True)
        rows, nproc = [], None
        t_start = time.monotonic()
        for rep in range(args.reps):
            k = rep % len(allocs)
            for slot, (aname, lib) in enumerate(allocs[k:] + allocs[:k]):
                t0 = time.monotonic()
                got, nproc = run_one(args, rep, slot, aname, lib)
                rows += got
                print(f"[rep {rep + 1}/{args.reps}] {aname:<9} {len(got)} points in "
                      f"{time.monotonic() - t0:5.1f} s", flush=True)
        elapsed = time.monotonic() - t_start
    info = [(k, v if k != "load average at end" else sh("cut -d' ' -f1-3 /proc/loadavg")) for k, v in info]
    info = [(k, v) if k != "nproc" else ("nproc (CPUs the workload may use)", str(nproc)) for k, v in info]
    if args.extra:
        info.append(("extra allocators", ", ".join(args.extra)))
    info += [("command", args.command), ("runs", f"{elapsed / 60:.1f} min")]
    st = Stats(rows, [a for a, _ in allocs], nproc)
    os.makedirs(args.out, exist_ok=True)
    write_csv(rows, info, os.path.join(args.out, "scaling.csv"))
    write_md(st, info, args, os.path.join(args.out, "scaling.md"))
    print_summary(st)
    if st.starved[0]:
        print(f"\nscaling: warning: {st.starved[0]} of {st.starved[1]} one-thread points had less than "
              "0.9 of a CPU: another process took the CPUs", file=sys.stderr)
    print(f"\nscaling: wrote {os.path.normpath(args.out)}/scaling.md and scaling.csv ({elapsed:.0f} s of runs)")


if __name__ == "__main__":
    main()
