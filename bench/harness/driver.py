#!/usr/bin/env python3
"""Runs every workload against every allocator and writes results.md,
results.csv and results.png. Started by bench/harness/run.sh, which builds
the shim and the workloads and generates the inputs first.

Each run is one child process: the allocator is loaded the way users load
it (nothing for glibc, LD_PRELOAD for the others). Wall time is measured
here (time.monotonic around the child's whole life, reaped with os.wait4);
peak RSS is ru_maxrss from wait4 as well, but taken by the small `spawn`
helper that forks the workload (see spawn.c: Linux carries ru_maxrss across
execve, so a child forked straight from Python would start at Python's
~20 MiB). Memory is the footprint, RssAnon + RssFile + every memfd page
(uvmalloc keeps freed pages in its memfds, where no RSS figure shows them):
its peak is sampled by spawn every 10 ms (never below ru_maxrss), and the
workload reports it after freeing everything, at once and, in the last
repetition (--idle), again after 1 s and 10 s without a call; that idle
time is taken off the run's time. Allocators alternate run by
run: in repetition r each workload runs under every allocator, in an order
rotated by r. Any failed run (non-zero exit, missing report, failed output
check) stops the harness with a non-zero exit.
"""
import argparse
import csv
import datetime
import hashlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LIBDIR = "/usr/lib/x86_64-linux-gnu"
ALLOCATORS = [  # name, preloaded library ("" = none), Debian package
    ("glibc", "", "libc6"),
    ("jemalloc", f"{LIBDIR}/libjemalloc.so.2", "libjemalloc2"),
    ("mimalloc", f"{LIBDIR}/libmimalloc.so.2", "libmimalloc2.0"),
    ("tcmalloc", f"{LIBDIR}/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    ("uvmalloc", None, None),  # the shim from the build directory
    # The chain: large blocks from the shim, the rest from the allocator after it.
    ("uvmalloc+mimalloc", f"{{shim}}:{LIBDIR}/libmimalloc.so.2", None),
    ("uvmalloc+jemalloc", f"{{shim}}:{LIBDIR}/libjemalloc.so.2", None),
]

# id, name, what it does in (quick / full) form; the program is built from
# workloads/<name>.c unless it is a real program.
WORKLOADS = [
    ("a", "realloc_step", "realloc growth by 1 MiB steps, new part touched", "128 MiB / 512 MiB"),
    ("b", "realloc_double", "realloc growth by doubling from 1 MiB, new half touched", "256 MiB / 1 GiB"),
    ("c", "churn_large", "64 live blocks of 256 KiB..16 MiB (log-uniform), every page touched", "500 / 3,000 rounds"),
    ("d", "malloc_large", "mimalloc-bench malloc-large: 20 live, 5..25 MiB, malloc+memset 0", "60 / 2,000 iterations"),
    ("d1", "new_large", "the same as (d) in C++: new char[n]() and delete[]", "60 / 300 iterations"),
    ("e", "alloc_free_pairs", "malloc+free of 128 KiB..1 MiB, first and last bytes touched", "5,000 / 50,000 pairs"),
    ("f", "calloc_sparse", "calloc 8..64 MiB, 4 live, every 64th page checked zero then dirtied", "60 / 250 rounds"),
    ("g", "test_vmalloc", "lib/test_vmalloc.c's 6 scenarios, kernel page -> 128 KiB unit", "500 / 5,000 loops each"),
    ("h", "xthread_churn", "2 threads, 256 KiB..4 MiB blocks freed by the other thread", "600 / 4,000 blocks a thread"),
    ("h1", "xthread_churn_1t", "the same as (h) in 1 thread (for the scaling ratio)", "600 / 4,000 blocks"),
    ("i", "zstd", "zstd -3 --long=31 -T2 of generated text", "64 MiB / 200 MiB"),
    ("j", "xz", "xz -9 -T1 of generated text", "1 MiB / 8 MiB"),
    ("k", "sort", "LC_ALL=C sort --parallel=2 -S 200M of generated lines", "32 MiB / 100 MiB"),
    ("m", "git_repack", "git repack -adf (2 threads) of a generated repository", "16 x 1 / 4 MiB files, 4 / 6 commits"),
    ("l", "small_pairs", "malloc+free of 8..1024 bytes: the shim's cost where it does nothing", "20M / 100M pairs"),
    ("l1", "small_threads", "4 threads churning 4,096 live blocks of 24..2048 bytes, 1/64 freed by another thread",
     "4M / 20M steps a thread"),
    ("n", "perl_count", "perl counting the words and numbers of the sort input in hashes (small blocks)",
     "400k / 1.5M lines"),
]
PROGRAMS = {"zstd", "xz", "sort", "git_repack", "perl_count"}
# perl_count's program: every word and every number of the first LINES lines
# counted in hashes, then the words with their counts in byte order and the
# number of distinct numbers. gen.py picks LINES (perl_count.lines) and
# computes the expected output independently (perl_count.sha256).
PERL_COUNT = ('my @f = split; $n{pop @f}++; $w{$_}++ for @f; last if $. >= LINES; '
              'END { print "$_ $w{$_}\\n" for sort keys %w; print scalar(keys %n), "\\n" }')



def fail(msg):
    sys.stderr.write("\n*** HARNESS FAILURE: " + msg + "\n")
    sys.exit(1)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine(args):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    root = args.repo
    commit = sh(f"git -C '{root}' rev-parse --short=12 HEAD") or "unknown"
    dirty = sh(f"git -C '{root}' status --porcelain --untracked-files=no -- . ':!bench/results'")
    if dirty:
        commit += " (plus uncommitted changes)"
    btype = ""
    try:
        with open(os.path.join(args.build_dir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    btype = line.split("=", 1)[1].strip()
    except OSError:
        pass
    versions = []
    for name, _, pkg in ALLOCATORS:
        if pkg:
            v = sh(f"dpkg-query -W -f='${{Version}}' {pkg}")
            versions.append(f"{name} {v or '?'}")
    thp = sh("cat /sys/kernel/mm/transparent_hugepage/enabled")
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return [
        ("CPU", cpu),
        ("nproc", str(os.cpu_count())),
        ("memory", mem),
        ("kernel", platform.release()),
        ("THP", thp),
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("git commit", commit),
        ("uvmalloc shim", f"{args.shim} ({btype or 'build type unknown'})"),
        ("UVMALLOC_CONF", os.environ.get("UVMALLOC_CONF", "") or "(unset: defaults)"),
        ("allocator packages", ", ".join(versions)),
        ("mode", f"{args.mode}, {args.reps} repetitions"),
        ("load average at start", sh("cut -d' ' -f1-3 /proc/loadavg")),
        ("load average at end", ""),
    ]


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            k = k.strip()
            if k and " " not in k:
                out[k] = v.strip()
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_stream(cmd):
    h = hashlib.sha256()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
    err = p.stderr.read()
    if p.wait() != 0:
        return "exit %d: %s" % (p.returncode, err.decode(errors="replace")[-300:])
    return h.hexdigest()


def clean_env():
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_CONF", "MIMALLOC_OPTIONS"):
        env.pop(k, None)
    env["LC_ALL"] = "C"
    return env


class Harness:
    def __init__(self, args):
        self.args = args
        self.allocs = []
        for name, lib, _ in ALLOCATORS:
            lib = args.shim if lib is None else lib.format(shim=args.shim)
            for part in lib.split(":") if lib else []:
                if not os.path.isfile(part):
                    fail(f"{name}: {part} not found (run scripts/setup.sh / build the shim)")
            self.allocs.append((name, lib))
        self.workloads = [w for w in WORKLOADS if not args.only or w[1] in args.only.split(",")]
        self.scratch = os.path.join(args.work, "runs")
        os.makedirs(self.scratch, exist_ok=True)
        self.expect = {}
        for k in ("zstd", "xz", "sort", "perl_count"):
            with open(os.path.join(args.data, k + ".sha256")) as f:
                self.expect[k] = f.read().strip()
        with open(os.path.join(args.data, "repo.objects")) as f:
            self.expect["git_repack"] = f.read().strip()
        self.rows = []

    def command(self, wname):
        a, d, s = self.args, self.args.data, self.scratch
        if wname == "zstd":
            return ["zstd", "-3", "--long=31", "-T2", "-q", "-f", os.path.join(d, "zstd.in"), "-o",
                    os.path.join(s, "out.zst")], None
        if wname == "xz":
            return ["xz", "-9", "-T1", "-c", os.path.join(d, "xz.in")], os.path.join(s, "out.xz")
        if wname == "sort":
            return ["sort", "--parallel=2", "-S", "200M", "-o", os.path.join(s, "out.sort"),
                    os.path.join(d, "sort.in")], None
        if wname == "perl_count":
            with open(os.path.join(d, "perl_count.lines")) as f:
                lines = int(f.read())
            return ["perl", "-ne", PERL_COUNT.replace("LINES", str(lines)), os.path.join(d, "sort.in")], \
                os.path.join(s, "out.perl")
        if wname == "git_repack":
            return ["git", "-C", os.path.join(d, "repo.git"), "-c", "pack.threads=2", "repack", "-adfq"], None
        if wname == "xthread_churn":
            return [os.path.join(a.bin, "xthread_churn"), a.mode, "2"], None
        if wname == "xthread_churn_1t":
            return [os.path.join(a.bin, "xthread_churn"), a.mode, "1"], None
        return [os.path.join(a.bin, wname), a.mode], None

    def verify(self, wname):
        s = self.scratch
        if wname == "zstd":
            got = sha256_stream(["zstd", "-d", "-q", "--long=31", "-c", os.path.join(s, "out.zst")])
        elif wname == "xz":
            got = sha256_stream(["xz", "-d", "-c", os.path.join(s, "out.xz")])
        elif wname == "sort":
            got = sha256_file(os.path.join(s, "out.sort"))
        elif wname == "perl_count":
            got = sha256_file(os.path.join(s, "out.perl"))
        elif wname == "git_repack":
            # One pack with every object, each of which reads back (fsck).
            repo = os.path.join(self.args.data, "repo.git")
            if subprocess.run(["git", "-C", repo, "fsck", "--no-progress", "--no-dangling"],
                              capture_output=True, env=clean_env()).returncode != 0:
                return "git fsck failed after the repack"
            packs = [f for f in os.listdir(os.path.join(repo, "objects", "pack")) if f.endswith(".pack")]
            got = sh(f"git -C {repo} rev-list --objects --all | wc -l")
            if len(packs) != 1:
                return f"{len(packs)} packs after the repack"
        else:
            return None
        for f in ("out.zst", "out.xz", "out.sort", "out.perl"):
            try:
                os.unlink(os.path.join(s, f))
            except FileNotFoundError:
                pass
        if got != self.expect[wname]:
            return f"output check failed: {got} != expected {self.expect[wname]}"
        return None

    def run_one(self, rep, slot, wname, aname, lib):
        cmd, stdout_file = self.command(wname)
        env = clean_env()
        env["TMPDIR"] = self.scratch
        idle = self.args.idle if rep == self.args.reps - 1 and wname not in PROGRAMS else ""
        if idle:
            env["HARNESS_IDLE_S"] = idle
        report = os.path.join(self.scratch, "spawn.report")
        if os.path.exists(report):
            os.unlink(report)
        out_path = stdout_file or os.path.join(self.scratch, "stdout")
        err_path = os.path.join(self.scratch, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.monotonic()
            p = subprocess.Popen([self.args.spawn, report, lib] + cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, env=env, start_new_session=True)
            timer = threading.Timer(self.args.timeout, os.killpg, (p.pid, signal.SIGKILL))
            timer.start()
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.monotonic()
            timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
        with open(err_path, "rb") as f:
            err_text = f.read().decode(errors="replace")
        kv = {}
        if stdout_file is None:
            with open(out_path, "rb") as f:
                kv = parse_kv(f.read().decode(errors="replace"))
        where = f"workload {wname}, allocator {aname}, repetition {rep + 1}"
        if p.returncode != 0:
            fail(f"{where}: exit status {p.returncode} after {t1 - t0:.2f} s "
                 f"(timeout {self.args.timeout} s)\ncommand: {' '.join(cmd)}\n"
                 f"LD_PRELOAD={lib}\nstderr (tail):\n{err_text[-3000:]}")
        try:
            with open(report) as f:
                rep_kv = parse_kv(f.read())
            peak = int(rep_kv["peak_rss_kb"])
        except (OSError, KeyError, ValueError):
            fail(f"{where}: no report from the spawn helper")
        if wname not in PROGRAMS and "rss_after_free_kb" not in kv:
            fail(f"{where}: no rss_after_free_kb line in the output")
        bad = self.verify(wname)
        if bad:
            fail(f"{where}: {bad}")
        extra = {k: v for k, v in kv.items() if k not in MEMORY_KEYS and k not in ("loop_s", "idle_s")}
        idle_s = float(kv.get("idle_s", 0))
        child_wall = rep_kv.get("child_wall_s", "")
        row = {
            "mode": self.args.mode, "rep": rep + 1, "slot": slot + 1, "workload": wname,
            "allocator": aname, "wall_s": f"{t1 - t0 - idle_s:.4f}",
            "child_wall_s": f"{float(child_wall) - idle_s:.6f}" if child_wall else "",
            "idle_s": kv.get("idle_s", ""),
            "peak_rss_kb": peak,
            "peak_footprint_kb": rep_kv.get("peak_footprint_kb", peak),
            **{k: kv.get(k, "") for k in MEMORY_KEYS},
            "loop_s": kv.get("loop_s", ""), "user_s": f"{ru.ru_utime:.3f}", "sys_s": f"{ru.ru_stime:.3f}",
            "minor_faults": ru.ru_minflt, "exit": p.returncode,
            "extra": ";".join(f"{k}={v}" for k, v in extra.items()),
        }
        self.rows.append(row)
        return row

    def run(self):
        n = len(self.allocs)
        total = self.args.reps * len(self.workloads) * n
        done = 0
        t_start = time.monotonic()
        for rep in range(self.args.reps):
            order = self.allocs[rep % n:] + self.allocs[:rep % n]
            for w in self.workloads:
                for slot, (aname, lib) in enumerate(order):
                    row = self.run_one(rep, slot, w[1], aname, lib)
                    done += 1
                    print(f"[{done:3d}/{total}] rep {rep + 1} {w[1]:<17} {aname:<17} {float(row['wall_s']):7.3f} s"
                          f"  peak {int(row['peak_rss_kb']) / 1024:7.1f} MiB", flush=True)
        self.elapsed = time.monotonic() - t_start


# What the workloads print of their memory after the free (common.h).
MEMORY_KEYS = ("rss_after_free_kb", "memfd_after_free_kb", "footprint_after_free_kb",
               "footprint_idle_1s_kb", "footprint_idle_10s_kb")


def extra_of(row):
    """The workload's own key=value figures kept in a row's extra column."""
    return dict(kv.split("=", 1) for kv in row["extra"].split(";") if "=" in kv)


def med_kb(rs, key):
    """Median of a memory column over the rows that have it, or None."""
    xs = [int(r[key]) for r in rs if r.get(key, "") != ""]
    return med(xs) if xs else None


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mib(kb):
    return f"{kb / 1024:.1f}"


def fmt_s(x):
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def summarize(h):
    """{(workload, allocator): stats} and the best median per workload."""
    stats = {}
    for w in h.workloads:
        for aname, _ in h.allocs:
            rs = [r for r in h.rows if r["workload"] == w[1] and r["allocator"] == aname]
            if not rs:
                continue
            walls = [float(r["wall_s"]) for r in rs]
            st = {
                "n": len(rs), "wall": med(walls), "min": min(walls), "max": max(walls),
                "peak": med([int(r["peak_rss_kb"]) for r in rs]),
                "peak_fp": med_kb(rs, "peak_footprint_kb"),
                "after": med_kb(rs, "rss_after_free_kb"),
                "memfd": med_kb(rs, "memfd_after_free_kb"),
                "fp": med_kb(rs, "footprint_after_free_kb"),
                "fp1": med_kb(rs, "footprint_idle_1s_kb"),
                "fp10": med_kb(rs, "footprint_idle_10s_kb"),
                "loop": med([float(r["loop_s"]) for r in rs]) if rs[0]["loop_s"] != "" else None,
                "ops": int(extra_of(rs[0]).get("ops", 0)),
                "half2": med([float(extra_of(r)["second_half_s"]) for r in rs])
                if "second_half_s" in extra_of(rs[0]) else None,
                "rows": rs,
            }
            stats[(w[1], aname)] = st
    best = {}
    for w in h.workloads:
        ws = [stats[(w[1], a)]["wall"] for a, _ in h.allocs if (w[1], a) in stats]
        best[w[1]] = min(ws) if ws else float("nan")
    for (wn, a), st in stats.items():
        st["ratio"] = st["wall"] / best[wn]
    return stats, best


def scaling(h, stats):
    out = []
    for aname, _ in h.allocs:
        s2 = stats.get(("xthread_churn", aname))
        s1 = stats.get(("xthread_churn_1t", aname))
        if not s1 or not s2 or not s1["loop"] or not s2["loop"]:
            continue
        t1 = s1["ops"] / s1["loop"]
        t2 = s2["ops"] / s2["loop"]
        out.append((aname, t1, t2, t2 / t1))
    return out


def write_csv(h, info, path):
    cols = ["mode", "rep", "slot", "workload", "allocator", "wall_s", "child_wall_s", "idle_s", "peak_rss_kb",
            "peak_footprint_kb", *MEMORY_KEYS, "loop_s", "user_s", "sys_s", "minor_faults", "exit", "extra"]
    with open(path, "w", newline="") as f:
        for k, v in info:
            f.write(f"# {k}: {v}\n")
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        for r in h.rows:
            w.writerow(r)


def write_md(h, info, stats, best, path, png_name):
    a = h.args
    allocs = [x for x, _ in h.allocs]
    L = []
    L.append(f"# uvmalloc comparative benchmark ({a.mode} mode)\n")
    d = dict(info)
    other = "`--full` for the long version" if a.mode == "quick" else "`--quick` for a 2-minute version"
    L.append(f"Generated by `{d.get('command', 'bench/harness/run.sh')}` ({d.get('runs', '?')} of runs). "
             f"Regenerate with the same command ({other}).\n")
    L.append("| machine | |\n|---|---|")
    for k, v in info:
        if k not in ("command", "runs"):
            L.append(f"| {k} | {v} |")
    L.append("")
    L.append("Each workload ran once per allocator per repetition, allocators alternating run by run "
             "(the order rotated every repetition). Time: wall time of the whole process measured by "
             "the parent (median, and min–max over the repetitions). Peak RSS: `ru_maxrss` from "
             "`wait4` (median), taken by a 1 MiB helper that forks the workload, since Linux keeps "
             "the pre-`exec` RSS of a child forked from the Python driver in `ru_maxrss`. Footprint: "
             "RssAnon + RssFile + every page of the process's memfds, mapped or not (uvmalloc keeps freed "
             "pages in its memfd page pool, where no RSS figure shows them; for the peers it is their RSS). "
             "Peak footprint: sampled every 10 ms by the helper, never below peak RSS (median). Footprint "
             "after free: what the workload reads after freeing everything, at once (median), and after "
             "1 s and 10 s without any call (last repetition only, `--idle`; the idle time is not in the "
             "time columns); real programs: —. Ratio: median time ÷ the best median "
             "for the workload (1.00 = fastest). Loop: the workload's own timing of its work, without "
             "process start and exit (median); where the whole run takes a few milliseconds, as (e) "
             "and (g) do for most allocators, the ratio mostly compares process start-ups and the "
             "loop column is the one to read.\n")
    L.append("## Time ratio to the best allocator\n")
    L.append(f"![time ratio to best per workload]({png_name})\n")
    L.append("| workload | " + " | ".join(allocs) + " |")
    L.append("|---|" + "---:|" * len(allocs))
    for w in h.workloads:
        cells = []
        for an in allocs:
            st = stats.get((w[1], an))
            if not st:
                cells.append("")
                continue
            c = f"{st['ratio']:.2f}"
            cells.append(f"**{c}**" if st["ratio"] <= 1.0000001 else c)
        L.append(f"| ({w[0]}) {w[1]} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("## All measurements\n")
    L.append("| workload | allocator | time median (s) | min–max (s) | loop (s) | peak RSS (MiB) "
             "| peak footprint (MiB) | footprint after free: at once / 1 s / 10 s idle (MiB) | ratio to best |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for w in h.workloads:
        for an in allocs:
            st = stats.get((w[1], an))
            if not st:
                continue
            after = " / ".join(mib(st[k]) if st[k] is not None else "—" for k in ("fp", "fp1", "fp10"))
            peak_fp = mib(st["peak_fp"]) if st["peak_fp"] is not None else "—"
            ratio = f"{st['ratio']:.2f}"
            if st["ratio"] <= 1.0000001:
                ratio = f"**{ratio}**"
            loop = fmt_s(st["loop"]) if st["loop"] is not None else "—"
            L.append(f"| ({w[0]}) {w[1]} | {an} | {fmt_s(st['wall'])} | {fmt_s(st['min'])}–{fmt_s(st['max'])} "
                     f"| {loop} | {mib(st['peak'])} | {peak_fp} | {after} | {ratio} |")
    L.append("")
    steady = [w for w in h.workloads if any(stats.get((w[1], an), {}).get("half2") for an in allocs)]
    for w in steady:
        sts = {an: stats[(w[1], an)] for an in allocs if (w[1], an) in stats and stats[(w[1], an)]["half2"]}
        fastest = min(st["half2"] for st in sts.values())
        L.append(f"## Steady state: the second half of ({w[0]}) {w[1]}\n")
        L.append("The workload's own time of the second half of its iterations (median), when every "
                 "allocator has warmed up; ratio to the fastest.\n")
        L.append("| allocator | second half (s) | ratio |")
        L.append("|---|---:|---:|")
        for an, st in sts.items():
            L.append(f"| {an} | {fmt_s(st['half2'])} | {st['half2'] / fastest:.2f} |")
        L.append("")
    sc = scaling(h, stats)
    if sc:
        L.append("## Two threads against one: (h) against (h1)\n")
        L.append("Throughput = blocks allocated, touched, checked and freed per second of the workload's own "
                 "loop time (median); the 2-thread run does twice the blocks of the 1-thread run, and every "
                 "free in it is a cross-thread free. Ratio = 2-thread throughput ÷ 1-thread throughput "
                 f"(2.00 would be perfect scaling on this {os.cpu_count()}-CPU machine).\n")
        L.append("| allocator | 1 thread (blocks/s) | 2 threads (blocks/s) | ratio |")
        L.append("|---|---:|---:|---:|")
        for an, t1, t2, r in sc:
            name = f"**{an}**" if an == "uvmalloc" else an
            L.append(f"| {name} | {t1:.0f} | {t2:.0f} | {r:.2f} |")
        L.append("")
    if any(w[1] == "test_vmalloc" for w in h.workloads):
        scen = ["fix_size", "full_fit", "long_busy_list", "random_size", "fix_align", "random_size_align"]
        L.append("## (g) test_vmalloc scenarios\n")
        L.append("Median time of each scenario's loop, in milliseconds.\n")
        L.append("| scenario | " + " | ".join(allocs) + " |")
        L.append("|---|" + "---:|" * len(allocs))
        for sname in scen:
            cells = []
            for an in allocs:
                st = stats.get(("test_vmalloc", an))
                vals = []
                for r in (st["rows"] if st else []):
                    kv = extra_of(r)
                    if f"t_{sname}_s" in kv:
                        vals.append(float(kv[f"t_{sname}_s"]))
                cells.append(f"{med(vals) * 1000:.2f}" if vals else "")
            L.append(f"| {sname} | " + " | ".join(cells) + " |")
        L.append("")
    L.append("## Workloads\n")
    L.append("Sizes are quick / full. Every workload checks its data (tags on every touched page, zeros "
             "for calloc, round trips and SHA-256 for the real programs) and a failed check fails the "
             "harness. Sources: `bench/harness/workloads/`, inputs: `bench/harness/gen.py` (fixed seeds).\n")
    L.append("| | workload | what | size |")
    L.append("|---|---|---|---|")
    for w in WORKLOADS:
        if w in h.workloads:
            L.append(f"| ({w[0]}) | {w[1]} | {w[2]} | {w[3]} |")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def fp_idle(st):
    """The footprint after free the plot shows: after 1 s idle, else at once."""
    for k in ("fp1", "fp"):
        if st.get(k) is not None:
            return st[k]
    return None


def write_png(h, info, stats, path):
    gp = shutil.which("gnuplot")
    if gp is None:
        fail("gnuplot not found (scripts/setup.sh installs gnuplot-nox)")
    allocs = [x for x, _ in h.allocs]
    dat = os.path.join(h.args.work, "ratio.dat")
    fdat = os.path.join(h.args.work, "footprint.dat")
    mem_ws = [w for w in h.workloads
              if any((w[1], a) in stats and fp_idle(stats[(w[1], a)]) is not None for a in allocs)]
    with open(dat, "w") as f, open(fdat, "w") as g:
        f.write("# workload " + " ".join(allocs) + "\n")
        g.write("# workload " + " ".join(allocs) + "\n")
        for w in h.workloads:
            vals = [stats[(w[1], a)]["ratio"] if (w[1], a) in stats else float("nan") for a in allocs]
            f.write(f"\"({w[0]}) {w[1]}\" " + " ".join(f"{v:.4f}" for v in vals) + "\n")
        for w in mem_ws:
            vals = []
            for a in allocs:
                kb = fp_idle(stats[(w[1], a)]) if (w[1], a) in stats else None
                vals.append(max(kb / 1024, 0.5) if kb is not None else float("nan"))
            g.write(f"\"({w[0]}) {w[1]}\" " + " ".join(f"{v:.2f}" for v in vals) + "\n")
    d = dict(info)
    title = (f"time / best time per workload ({h.args.mode}, median of {h.args.reps}; lower is better)\\n"
             f"{d['CPU']}, {d['nproc']} CPUs, Linux {d['kernel']}, {d['date']}, commit {d['git commit']}")
    idle = "after 1 s idle" if any(st.get("fp1") is not None for st in stats.values()) else "at once"
    ftitle = f"footprint after free, {idle} (MiB: RssAnon + RssFile + memfd pages; lower is better)"
    top = max([st["ratio"] for st in stats.values()] + [2.0]) * 1.6
    colors = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#ff9da7", "#9c755f"]

    def plots(src_path, with_title):
        out = []
        for i, a in enumerate(allocs):
            src = f"'{src_path}'" if i == 0 else "''"
            xt = ":xtic(1)" if i == 0 else ""
            t = f"title '{a}'" if with_title else "notitle"
            out.append(f"{src} using {i + 2}{xt} {t} lc rgb '{colors[i % len(colors)]}'")
        return ", ".join(out)

    common = """set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30 noenhanced
set offsets 0.5, 0.5, 0, 0
set xrange [-0.5:*]
"""
    script = f"""
set terminal pngcairo size 1280,1180 font ',10'
set output '{path}'
set multiplot layout 2,1
{common}
set title "{title}" noenhanced
set logscale y 2
set yrange [0.8:{top:.1f}]
set ylabel 'time ratio to the best (log scale)'
set key outside top center horizontal reverse Left noenhanced samplen 2 width 2
set bmargin 6
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#444444' dt 2
plot {plots(dat, True)}
unset arrow 1
set title "{ftitle}" noenhanced
set logscale y 10
set yrange [0.4:*]
set ylabel 'MiB (log scale)'
unset key
plot {plots(fdat, False)}
unset multiplot
"""
    # bytes, not text: gnuplot writes the image to stdout when it cannot open the output
    r = subprocess.run([gp], input=script.encode(), capture_output=True)
    if r.returncode != 0 or not os.path.isfile(path):
        fail("gnuplot failed:\n" + r.stderr.decode(errors="replace"))


def render(args):
    """Redraws results.md and results.png from a results.csv."""
    info, lines = [], []
    with open(args.render) as f:
        for line in f:
            if line.startswith("# ") and not lines:
                k, _, v = line[2:].rstrip("\n").partition(": ")
                info.append((k, v))
            else:
                lines.append(line)
    rows = list(csv.DictReader(lines))
    if not rows:
        fail(f"{args.render}: no rows")

    class Loaded:
        pass

    h = Loaded()
    h.rows = rows
    h.args = args
    args.mode = rows[0]["mode"]
    args.reps = max(int(r["rep"]) for r in rows)
    args.work = tempfile.mkdtemp()
    names = {r["allocator"] for r in rows}
    h.allocs = [(a, "") for a, _, _ in ALLOCATORS if a in names]
    wnames = {r["workload"] for r in rows}
    h.workloads = [w for w in WORKLOADS if w[1] in wnames]
    stats, best = summarize(h)
    os.makedirs(args.out, exist_ok=True)
    write_png(h, info, stats, os.path.join(args.out, "results.png"))
    shutil.rmtree(args.work)
    write_md(h, info, stats, best, os.path.join(args.out, "results.md"), "results.png")
    print(f"harness: redrew {args.out}/results.md and results.png from {args.render}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("quick", "full"))
    ap.add_argument("--reps", type=int)
    ap.add_argument("--shim")
    ap.add_argument("--build-dir")
    ap.add_argument("--bin")
    ap.add_argument("--spawn", help="the spawn helper (spawn.c)")
    ap.add_argument("--data")
    ap.add_argument("--work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repo")
    ap.add_argument("--render", metavar="CSV",
                    help="only redraw results.md and results.png in --out from a results.csv (no runs)")
    ap.add_argument("--only", help="comma-separated workload names (for debugging)")
    ap.add_argument("--timeout", type=float)
    ap.add_argument("--idle", help="in the last repetition, the footprint again this many seconds after the "
                    "free (comma-separated, increasing; default 1,10 in full mode, none in quick; '' for none)")
    ap.add_argument("--command", default="bench/harness/run.sh")
    args = ap.parse_args()
    if args.render:
        render(args)
        return
    for opt in ("mode", "shim", "build_dir", "bin", "spawn", "data", "work", "repo"):
        if getattr(args, opt) is None:
            ap.error(f"--{opt.replace('_', '-')} is required")
    if args.reps is None:
        args.reps = 3 if args.mode == "quick" else 7
    if args.idle is None:
        args.idle = "1,10" if args.mode == "full" else ""
    if args.timeout is None:
        args.timeout = 120 if args.mode == "quick" else 600
    h = Harness(args)
    info = machine(args)
    print(f"harness: {len(h.workloads)} workloads x {len(h.allocs)} allocators x {args.reps} repetitions",
          flush=True)
    h.run()
    info = [(k, v if k != "load average at end" else sh("cut -d' ' -f1-3 /proc/loadavg")) for k, v in info]
    info.append(("command", args.command))
    info.append(("runs", f"{h.elapsed / 60:.1f} min"))
    stats, best = summarize(h)
    os.makedirs(args.out, exist_ok=True)
    write_csv(h, info, os.path.join(args.out, "results.csv"))
    write_png(h, info, stats, os.path.join(args.out, "results.png"))
    write_md(h, info, stats, best, os.path.join(args.out, "results.md"), "results.png")
    print(f"harness: wrote {args.out}/results.md, results.csv, results.png "
          f"({h.elapsed:.0f} s of runs)")
    for an, t1, t2, r in scaling(h, stats):
        if an == "uvmalloc":
            print(f"harness: uvmalloc 2-thread/1-thread throughput ratio {r:.2f}")


if __name__ == "__main__":
    main()
