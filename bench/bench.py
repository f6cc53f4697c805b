#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""est-enroll benchmark driver (started by bench/run.sh; never a timed test).

  bench.py passes  --build B --out DIR [-n N]     one pass of each kind, side by side
  bench.py fleet   --build B --out DIR [--sizes 1,10,100,500] [--outage-n N]
  bench.py profile --build B --out DIR            callgrind: where the instructions go
  bench.py plot    --out DIR --png FILE           the fleet picture (gnuplot)

Every figure of a run comes from the kernel or the test server, never from the client:
  wall            monotonic clock around posix_spawn .. wait4 of the child
  CPU             ru_utime + ru_stime of wait4 (the child and its reaped descendants:
                  for a shell script, every openssl/curl/pki it ran)
  peak RSS        ru_maxrss of wait4 (KiB; the largest single process of the tree)
  TCP, TLS        tests/est-server.py --conn-log: one line per accepted TCP connection,
                  handshake true/false, session resumed or not
  HTTP requests   lines of the server's request log
  bytes up/down   TCP payload bytes per connection from the server's TCP_INFO
                  (tcpi_bytes_received / tcpi_bytes_sent - retrans): TLS records and
                  HTTP included, IP/TCP headers not; nothing runs in the client's process
The rows with the key in a SoftHSM2 token or in swtpm (through tpm2-abrmd) count the
client only: the token's module runs inside it, the TPM's daemons do not (their CPU is
shown apart, from /proc/PID/task/*/schedstat).
Only the standard library is used (Debian's /usr/bin/python3).
"""

import argparse
import ctypes
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SERVER = os.path.join(TOP, "tests", "est-server.py")
PY = "/usr/bin/python3"
BENCH_ID = os.environ.get("BENCH_ID", str(os.getpid()))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The targets (issue 14, on libcurl), checked on the medians. libest's estclient was
# measured once on this machine: 11.1 ms of CPU and 9.3 MB when /bin/true took 0.6 ms; its CPU
# is compared as a multiple of /bin/true in the same run, the machine's speed varying.
TARGET_QUICK_X_TRUE = 3.0          # idle pass, status, load: wall, x /bin/true's
TARGET_QUICK_KIB = 4 * 1024        # ... and peak RSS (4 MiB)
ESTCLIENT_CPU_X_TRUE = 11.1 / 0.6  # P-256 enrollment: client CPU, at most 1.0 x estclient's
TARGET_ENROLL_KIB = 1.4 * 9.3e6 / 1024  # ... and peak RSS, at most 1.4 x estclient's 9.3 MB


# ---------------------------------------------------------------- utilities

def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def parse_time(s):
    return datetime.datetime.fromisoformat(s).timestamp()


def spawn(argv, env=None, stdout=None):
    """posix_spawn with stdin </dev/null and stdout/stderr to a file or /dev/null."""
    out = os.open(stdout or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    nul = os.open(os.devnull, os.O_RDONLY)
    err = os.open(os.devnull, os.O_WRONLY)
    try:
        fa = [(os.POSIX_SPAWN_DUP2, nul, 0), (os.POSIX_SPAWN_DUP2, out, 1),
              (os.POSIX_SPAWN_DUP2, err, 2)]
        return os.posix_spawn(argv[0], argv, env if env is not None else os.environ,
                              file_actions=fa)
    finally:
        os.close(out)
        os.close(nul)
        os.close(err)


MEASURE = os.environ.get("BENCH_MEASURE", "")


def run(argv, env=None):
    """Runs argv under bench/measure -> dict(wall ms, cpu ms, user, sys, rss KiB, rc)."""
    r, w = os.pipe()
    if w == 3:
        w2 = os.dup(w)
        os.close(w)
        w = w2
    nul = os.open(os.devnull, os.O_RDWR)
    try:
        fa = [(os.POSIX_SPAWN_DUP2, nul, 0), (os.POSIX_SPAWN_DUP2, nul, 1),
              (os.POSIX_SPAWN_DUP2, nul, 2), (os.POSIX_SPAWN_DUP2, w, 3)]
        pid = os.posix_spawn(MEASURE, [MEASURE, *argv],
                             env if env is not None else os.environ, file_actions=fa)
    finally:
        os.close(w)
        os.close(nul)
    data = b""
    while True:
        chunk = os.read(r, 256)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    wall, ut, st, rss, rc = (int(x) for x in data.split())
    return {"wall": wall / 1e6, "cpu": (ut + st) / 1000, "user": ut / 1000, "sys": st / 1000,
            "rss": rss, "rc": rc}


class Keyrings:
    """Named keyrings linked into root's user keyring, unlinked at the end."""
    USER = -4

    def __init__(self):
        self.names = set()
        try:
            self.lib = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
            self.lib.keyctl_search.restype = ctypes.c_long
            self.lib.keyctl_search.argtypes = [ctypes.c_int32, ctypes.c_char_p,
                                               ctypes.c_char_p, ctypes.c_int32]
            self.lib.keyctl_unlink.argtypes = [ctypes.c_int32, ctypes.c_int32]
        except OSError:
            self.lib = None

    def name(self, tag):
        n = f"est:bench-{BENCH_ID}-{tag}"
        self.names.add(n)
        return n

    def unlink(self, name):
        if self.lib is None:
            subprocess.run(f'k=$(keyctl search @u keyring "{name}" 2>/dev/null) && '
                           f'keyctl unlink "$k" @u', shell=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            return
        while True:
            k = self.lib.keyctl_search(self.USER, b"keyring", name.encode(), 0)
            if k < 0 or self.lib.keyctl_unlink(int(k), self.USER) < 0:
                return

    def cleanup(self):
        for n in sorted(self.names):
            self.unlink(n)
        self.names.clear()


KEYRINGS = Keyrings()


class Server:
    """tests/est-server.py on 127.0.0.1 with a request log and a connection log."""

    def __init__(self, d, *args):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.reqlog = os.path.join(d, "requests.log")
        self.connlog = os.path.join(d, "conns.log")
        port = os.path.join(d, "port")
        for stale in (port, self.reqlog, self.connlog):
            if os.path.exists(stale):
                os.unlink(stale)
        self.proc = subprocess.Popen(
            [PY, SERVER, "--dir", os.path.join(d, "srv"), "--port-file", port,
             "--log", self.reqlog, "--conn-log", self.connlog, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(d, "server.err"), "w"))
        for _ in range(400):
            if os.path.exists(port) and open(port).read().strip():
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: server failed: {open(d + '/server.err').read()}")
            time.sleep(0.025)
        else:
            raise SystemExit("bench: server did not start")
        self.port = int(open(port).read())
        self.root = os.path.join(d, "srv", "root.pem")
        self.behaviour = os.path.join(d, "srv", "behaviour")

    def cpu(self):
        """utime + stime of the server process so far, seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            w = f.read().rsplit(")", 1)[1].split()
        return (int(w[11]) + int(w[12])) / CLK_TCK

    def mark(self):
        return (os.path.getsize(self.reqlog) if os.path.exists(self.reqlog) else 0,
                os.path.getsize(self.connlog) if os.path.exists(self.connlog) else 0)

    @staticmethod
    def _read(path, off):
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read()
        end = data.rfind(b"\n") + 1
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]

    def since(self, mark, settle=True):
        """(requests, connections) logged after mark; waits for the server to log the
        closes of the connections the requests came on."""
        deadline = time.monotonic() + 2.0
        while True:
            reqs = self._read(self.reqlog, mark[0])
            conns = self._read(self.connlog, mark[1])
            want = {r["conn"] for r in reqs}
            have = {c["conn"] for c in conns}
            if not settle or want <= have or time.monotonic() > deadline:
                return reqs, conns
            time.sleep(0.005)

    def set_behaviour(self, lines):
        tmp = self.behaviour + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.rename(tmp, self.behaviour)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def net_figures(reqs, conns):
    return {"conns": len(conns),
            "handshakes": sum(1 for c in conns if c["handshake"]),
            "resumed": sum(1 for c in conns if c.get("resumed")),
            "requests": len(reqs),
            "up": sum(c["bytes_in"] or 0 for c in conns),
            "down": sum(c["bytes_out"] or 0 for c in conns)}


class Store:
    """One est-enroll keystore: its own config, keyring name, store and runtime dir."""

    def __init__(self, base, tag, server, key="EC", params="prime256v1", extra=None):
        self.dir = os.path.join(base, tag)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "conf")
        self.keyring = KEYRINGS.name(tag)
        self.run = os.path.join(self.dir, "run")
        self.write_conf(server, key, params, extra or {})
        self.env = dict(os.environ, RUNTIME_DIRECTORY=self.run)

    def write_conf(self, server, key="EC", params="prime256v1", extra=None):
        est = {"server": f"127.0.0.1:{server.port}", "ca_root": server.root,
               "subject": f"CN=bench-{os.path.basename(self.dir)}",
               "key_algorithm": key, "key_params": params, "keystore": "b"}
        est.update(extra or {})
        with open(self.conf, "w") as f:
            f.write("[est]\n" + "".join(f"{k} = {v}\n" for k, v in est.items()) +
                    f"[keystore b]\nkeyring = {self.keyring}\npath = {self.dir}/store\n")

    def add_export(self):
        with open(self.conf, "a") as f:
            f.write(f"[export app]\nkey = {self.dir}/exp/key.pem\ncert = {self.dir}/exp/cert.pem\n"
                    f"ca = {self.dir}/exp/ca.pem\n")

    def argv(self, est, *cmd):
        return [est, "-q", "-c", self.conf, *cmd]

    def reboot(self):
        """What a reboot leaves: the file copy; no keyring, an empty /run."""
        KEYRINGS.unlink(self.keyring)
        shutil.rmtree(self.run, ignore_errors=True)

    def remove(self):
        KEYRINGS.unlink(self.keyring)
        KEYRINGS.names.discard(self.keyring)
        shutil.rmtree(self.dir, ignore_errors=True)


def stats(values):
    v = sorted(values)
    return {"med": statistics.median(v), "min": v[0], "max": v[-1]}


def fmt_spread(values, prec=1):
    s = stats(values)
    if s["min"] == s["max"]:
        return f"{s['med']:.{prec}f}"
    return f"{s['med']:.{prec}f} ({s['min']:.{prec}f}–{s['max']:.{prec}f})"


def fmt_count(values):
    s = stats(values)
    med = s["med"]
    txt = f"{med:g}" if med == int(med) else f"{med:.1f}"
    return txt if s["min"] == s["max"] else f"{txt} ({s['min']:g}–{s['max']:g})"


def fmt_kb(values):
    s = stats(values)
    return f"{s['med'] / 1024:.1f} ({s['min'] / 1024:.1f}–{s['max'] / 1024:.1f})" \
        if s["min"] != s["max"] else f"{s['med'] / 1024:.1f}"


# ---------------------------------------------------------------- keys in hardware

from bench_hw import HW_KINDS, hw_start  # noqa: E402 (beside this file)


# ---------------------------------------------------------------- passes

KEYS = {"P-256": ("EC", "prime256v1", "ecdsa", 256, "EC:prime256v1"),
        "RSA-2048": ("RSA", "2048", "rsa", 2048, "RSA:2048"),
        "RSA-4096": ("RSA", "4096", "rsa", 4096, "RSA:4096")}


def cmd_passes(a):
    est = os.path.abspath(os.path.join(a.build, "est-enroll"))
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    # A: what est-enroll and the shell baseline talk to; B: the same with --no-wrap, the
    # only form strongSwan's pki parses; C: A without TCP_NODELAY (the test server's
    # default, as the integration tests run it).
    srv_a = Server(os.path.join(out, "srv-a"), "--nodelay")
    srv_b = Server(os.path.join(out, "srv-b"), "--nodelay", "--no-wrap")
    srv_c = Server(os.path.join(out, "srv-c"))
    have_pki = shutil.which("pki") is not None
    rows = {}       # (scenario, client) -> list of measurements
    order = []
    hw = []         # (tag, Token or Tpm) that started
    hw_rows = []    # (scenario with the key in hardware, the same with a software key)

    def add(scn, client, m):
        key = (scn, client)
        if key not in rows:
            rows[key] = []
            order.append(key)
        rows[key].append(m)

    def measure(server, scn, client, argv, env=None, want_rc=0):
        mk = server.mark()
        # every pass starts on an idle disk, as a timer's on a quiet device: the previous
        # runs' dirty pages would otherwise be written back inside this one's fsyncs
        os.sync()
        m = run(argv, env)
        reqs, conns = server.since(mk)
        m.update(net_figures(reqs, conns))
        if m["rc"] != want_rc:
            log(f"{scn} / {client}: exit {m['rc']} (want {want_rc})")
            m["bad"] = True
        add(scn, client, m)
        return m

    for _ in range(3):
        run(["/bin/true"])
    shell = os.path.join(HERE, "est-shell.sh")
    pkish = os.path.join(HERE, "est-pki.sh")
    try:
        hw_start(out, hw)
        for i in range(a.n):
            log(f"passes: run {i + 1}/{a.n}")
            measure(srv_a, "`/bin/true` (the machine's process start floor)", "–",
                    ["/bin/true"])
            measure(srv_a, "`est-enroll --help` (libraries loaded, nothing done)",
                    "est-enroll", [est, "--help"])
            for kname, (alg, params, ptype, psize, sspec) in KEYS.items():
                st = Store(out, f"p{i}-{kname}", srv_a, alg, params)
                measure(srv_a, f"enroll {kname}", "est-enroll", st.argv(est, "run", "--once"),
                        st.env)
                if kname == "P-256":
                    measure(srv_a, "renew P-256", "est-enroll",
                            st.argv(est, "renew", "--once"), st.env)
                    measure(srv_a, "idle pass (run, nothing due)", "est-enroll",
                            st.argv(est, "run", "--once"), st.env)
                    measure(srv_a, "status", "est-enroll", st.argv(est, "status"), st.env)
                    st.reboot()
                    measure(srv_a, "load (after reboot: no keyring)", "est-enroll",
                            st.argv(est, "load"), st.env)
                    measure(srv_a, "load (keyring in sync)", "est-enroll",
                            st.argv(est, "load"), st.env)
                    # a device's usual config: the pair also exported as files for a consumer
                    st.add_export()
                    run(st.argv(est, "run", "--once"), st.env)  # writes the files
                    measure(srv_a, "idle pass with an [export] section", "est-enroll",
                            st.argv(est, "run", "--once"), st.env)
                    if os.path.isdir("/dev/shm"):
                        shm = f"/dev/shm/est-bench-{BENCH_ID}"
                        sts = Store(shm, f"p{i}-tmpfs", srv_a, alg, params)
                        measure(srv_a, "enroll P-256, store on tmpfs (fsync costs ~0)",
                                "est-enroll", sts.argv(est, "run", "--once"), sts.env)
                        sts.remove()
                        shutil.rmtree(shm, ignore_errors=True)
                    stc = Store(out, f"p{i}-nagle", srv_c, alg, params)
                    measure(srv_c, "enroll P-256, server without TCP_NODELAY", "est-enroll",
                            stc.argv(est, "run", "--once"), stc.env)
                    stc.remove()
                    for tag, kind in hw:
                        measure_hw(measure, hw_rows, out, f"p{i}-{tag}", kind, srv_a, est)
                st.remove()
                # the shell baseline: openssl + curl command lines
                d = os.path.join(out, f"sh{i}-{kname}")
                os.makedirs(d)
                base = f"https://127.0.0.1:{srv_a.port}/.well-known/est"
                measure(srv_a, f"enroll {kname}", "openssl+curl",
                        ["/bin/bash", shell, "enroll", base, srv_a.root, d, sspec])
                if kname == "P-256":
                    measure(srv_a, "renew P-256", "openssl+curl",
                            ["/bin/bash", shell, "renew", base, srv_a.root, d, sspec])
                shutil.rmtree(d)
                if have_pki:
                    d = os.path.join(out, f"pki{i}-{kname}")
                    os.makedirs(d)
                    url = f"https://127.0.0.1:{srv_b.port}"
                    measure(srv_b, f"enroll {kname}", "pki --est",
                            ["/bin/bash", pkish, "enroll", url, srv_b.root, d, ptype,
                             str(psize)])
                    if kname == "P-256":
                        measure(srv_b, "renew P-256", "pki --est",
                                ["/bin/bash", pkish, "renew", url, srv_b.root, d, ptype,
                                 str(psize)])
                    shutil.rmtree(d)
        daemons = {}
        for _, kind in hw:
            daemons.update(kind.daemons_rss())
    finally:
        for _, kind in hw:
            kind.stop()
        for s in (srv_a, srv_b, srv_c):
            s.stop()
        KEYRINGS.cleanup()
    with open(os.path.join(out, "passes.json"), "w") as f:
        json.dump([{"scenario": s, "client": c, "runs": rows[(s, c)]} for s, c in order], f)
    return report_passes(order, rows, a.n, have_pki, out, hw_rows, daemons)


def measure_hw(measure, hw_rows, out, tag, kind, server, est):
    """A first enrollment and a renewal (a new key: renew_rekey's default) of P-256 with
    the key in the hardware of kind, beside the software key's rows; the daemons' CPU
    (swtpm, abrmd, dbus-daemon) is kept apart from the client's."""
    kind.reset()
    st = Store(out, tag, server, "EC", "prime256v1", kind.extra)
    env = dict(st.env, **kind.env)
    for sw, cmd in (("enroll P-256", "run"), ("renew P-256", "renew")):
        scn = f"{sw}{' (new key)' if cmd == 'renew' else ''}, key in {kind.NAME}"
        if (scn, sw) not in hw_rows:
            hw_rows.append((scn, sw))
        c0 = kind.daemon_cpu()
        m = measure(server, scn, "est-enroll", st.argv(est, cmd, "--once"), env)
        if c0 is not None:
            m["daemon_cpu"] = kind.daemon_cpu() - c0
    st.remove()


def report_passes(order, rows, n, have_pki, out, hw_rows=(), daemons=None):
    lines = [f"Median of {n} runs (min–max). CPU = user+sys of the client process tree; "
             "RSS = peak of its largest process; bytes = TCP payload (TLS included) "
             "client→server / server→client.", "",
             "| pass | client | wall ms | CPU ms | peak RSS MiB | TCP conns | TLS handshakes "
             "| HTTP requests | bytes up / down |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in order:
        r = rows[key]
        scn, client = key
        up, down = stats([m["up"] for m in r]), stats([m["down"] for m in r])
        hs = fmt_count([m["handshakes"] for m in r])
        res = stats([m["resumed"] for m in r])["max"]
        if res:
            hs += f" ({res:g} resumed)"
        bad = sum(1 for m in r if m.get("bad"))
        lines.append(
            f"| {scn}{' **(%d failed)**' % bad if bad else ''} | {client} "
            f"| {fmt_spread([m['wall'] for m in r])} | {fmt_spread([m['cpu'] for m in r])} "
            f"| {fmt_kb([m['rss'] for m in r])} | {fmt_count([m['conns'] for m in r])} | {hs} "
            f"| {fmt_count([m['requests'] for m in r])} | {up['med']:.0f} / {down['med']:.0f} |")
    # ratios
    lines += ["", "Ratios est-enroll / other client (medians):", "",
              "| pass | vs | wall | CPU | peak RSS | TCP conns | bytes up+down |",
              "|---|---|---|---|---|---|---|"]
    med = {k: {f: statistics.median([m[f] for m in v])
               for f in ("wall", "cpu", "rss", "conns", "up", "down")} for k, v in rows.items()}
    for scn in dict.fromkeys(s for s, _ in order):
        e = med.get((scn, "est-enroll"))
        if not e:
            continue
        for other in ("pki --est", "openssl+curl"):
            o = med.get((scn, other))
            if not o:
                continue

            def ratio(f):
                return f"{e[f] / o[f]:.2f}" if o[f] else "–"
            b = (e["up"] + e["down"]) / (o["up"] + o["down"]) if o["up"] + o["down"] else 0
            lines.append(f"| {scn} | {other} | {ratio('wall')} | {ratio('cpu')} "
                         f"| {ratio('rss')} | {ratio('conns')} | {b:.2f} |")
    lines += report_hw(rows, med, hw_rows, daemons or {})
    # targets
    checks = []

    def check(what, value, limit, unit):
        ok = value <= limit
        checks.append((what, value, limit, unit, ok))

    floor = med[("`/bin/true` (the machine's process start floor)", "–")]
    for scn in ("idle pass (run, nothing due)", "idle pass with an [export] section", "status",
                "load (after reboot: no keyring)", "load (keyring in sync)"):
        e = med[(scn, "est-enroll")]
        check(f"{scn}: wall, x /bin/true's", e["wall"] / floor["wall"], TARGET_QUICK_X_TRUE, "x")
        check(f"{scn}: peak RSS", e["rss"] / 1024, TARGET_QUICK_KIB / 1024, "MiB")
        check(f"{scn}: TCP connections", e["conns"], 0, "")
    e = med[("enroll P-256", "est-enroll")]
    check(f"enroll P-256: client CPU ({e['cpu']:.2f} ms, /bin/true {floor['cpu']:.2f} ms), "
          "x libest estclient's", e["cpu"] / floor["cpu"] / ESTCLIENT_CPU_X_TRUE, 1.0, "x")
    check("enroll P-256: peak RSS", e["rss"] * 1024 / 1e6, TARGET_ENROLL_KIB * 1024 / 1e6, "MB")
    for (scn, client), r in rows.items():
        if client != "est-enroll" or not any(m["requests"] for m in r):
            continue
        check(f"{scn}: TCP connections per pass (max)", max(m["conns"] for m in r), 1, "")
        check(f"{scn}: TLS handshakes per pass (max)", max(m["handshakes"] for m in r), 1, "")
    lines += ["", "Targets of issue 14 (medians; connections: the worst run):", "",
              "| target | measured | limit | |", "|---|---|---|---|"]
    for what, value, limit, unit, ok in checks:
        lines.append(f"| {what} | {value:.2f} {unit} | ≤ {limit:g} {unit} "
                     f"| {'ok' if ok else '**OVER**'} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "passes.md"), "w") as f:
        f.write(text)
    print(text)
    over = [c for c in checks if not c[4]]
    for what, value, limit, unit, _ in over:
        log(f"OVER: {what} {value:.2f} {unit} > {limit:g} {unit}")
    return 1 if over else 0


def report_hw(rows, med, hw_rows, daemons):
    """The ratios of the rows with the key in hardware to the software key's rows of the
    same run (the machine's speed varies from day to day, not within a run)."""
    if not hw_rows:
        return []
    lines = ["", "Ratios key in hardware / software key (est-enroll, medians of the same run); "
             "the TPM's daemons are not the client: their CPU is apart:", "",
             "| pass | vs | wall | CPU | peak RSS | bytes up+down "
             "| daemons' CPU ms (swtpm + abrmd + dbus) |",
             "|---|---|---|---|---|---|---|"]
    for scn, sw in hw_rows:
        e, o = med.get((scn, "est-enroll")), med.get((sw, "est-enroll"))
        if not e or not o:
            continue
        d = [m["daemon_cpu"] for m in rows[(scn, "est-enroll")] if "daemon_cpu" in m]
        b = (e["up"] + e["down"]) / (o["up"] + o["down"]) if o["up"] + o["down"] else 0
        lines.append(f"| {scn} | {sw} | {e['wall'] / o['wall']:.2f} | {e['cpu'] / o['cpu']:.2f} "
                     f"| {e['rss'] / o['rss']:.2f} | {b:.2f} "
                     f"| {fmt_spread(d) if d else '– (in the client)'} |")
    if daemons:
        lines += ["", "The daemons' own peak RSS over the run (VmHWM; not the client's): " +
                  ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in daemons.items()) + "."]
    return lines


# ---------------------------------------------------------------- fleet

class Fleet:
    """Child processes started by the driver and reaped by one thread (wait4(-1))."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = {}    # pid -> (tag, t0)
        self.done = []       # (tag, t0, t1, rc, cpu ms)
        self.cv = threading.Condition(self.lock)
        self.stop = False
        self.thread = threading.Thread(target=self.reap, daemon=True)
        self.thread.start()

    def reap(self):
        while True:
            with self.lock:
                if self.stop and not self.pending:
                    return
                if not self.pending:
                    self.cv.wait(0.05)
                    continue
            try:
                pid, status, ru = os.wait4(-1, 0)
            except ChildProcessError:
                time.sleep(0.01)
                continue
            t1 = time.time()
            with self.lock:
                info = self.pending.pop(pid, None)
                if info is not None:
                    self.done.append((info[0], info[1], t1, os.waitstatus_to_exitcode(status),
                                      (ru.ru_utime + ru.ru_stime) * 1000))
                self.cv.notify_all()

    def start(self, tag, argv, env):
        with self.lock:
            t0 = time.time()
            pid = spawn(argv, env)
            self.pending[pid] = (tag, t0)
            self.cv.notify_all()

    def start_together(self, items):
        """items: (tag, argv, env). Each waits behind bench/measure --gate until all are
        started, then all are released at once; -> (release time, preparation seconds)."""
        t_prep = time.time()
        r, w = os.pipe()
        nul = os.open(os.devnull, os.O_RDWR)
        pids = []
        try:
            for tag, argv, env in items:
                fa = [(os.POSIX_SPAWN_DUP2, nul, 0), (os.POSIX_SPAWN_DUP2, nul, 1),
                      (os.POSIX_SPAWN_DUP2, nul, 2), (os.POSIX_SPAWN_DUP2, r, 4)]
                with self.lock:
                    pid = os.posix_spawn(MEASURE, [MEASURE, "--gate", *argv], env,
                                         file_actions=fa)
                    self.pending[pid] = (tag, 0.0)
                    pids.append(pid)
                    self.cv.notify_all()
        finally:
            os.close(r)
            os.close(nul)
        time.sleep(0.2)
        with self.lock:
            t0 = time.time()
            os.close(w)
            for pid in pids:
                if pid in self.pending:
                    self.pending[pid] = (self.pending[pid][0], t0)
        return t0, t0 - t_prep

    def wait(self, timeout=600):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending and time.monotonic() < deadline:
                self.cv.wait(0.1)
            done, self.done = self.done, []
            return done

    def close(self):
        with self.lock:
            self.stop = True
            self.cv.notify_all()


def schedule(fleet, items, t_base):
    """items: (delay s, tag, argv, env) -> start each at t_base + delay."""
    for delay, tag, argv, env in sorted(items, key=lambda x: x[0]):
        dt = t_base + delay - time.time()
        if dt > 0:
            time.sleep(dt)
        fleet.start(tag, argv, env)


def rate_bins(times, t0, t1, width):
    n = max(1, int((t1 - t0) / width + 0.999))
    bins = [0] * n
    for t in times:
        i = int((t - t0) / width)
        if 0 <= i < n:
            bins[i] += 1
    return [b / width for b in bins]


def peak_rate(times, width):
    """Highest request rate in any window of the given width (sliding), per second."""
    ts, best, j = sorted(times), 0, 0
    for i, t in enumerate(ts):
        while ts[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best / width


def listen_drops():
    """TcpExt ListenDrops of this network namespace (SYNs or accepts lost at a full listen
    queue; the test server's backlog is 64)."""
    try:
        with open("/proc/net/netstat") as f:
            rows = [line.split() for line in f if line.startswith("TcpExt:")]
        return int(dict(zip(rows[0][1:], rows[1][1:])).get("ListenDrops", 0))
    except (OSError, IndexError, ValueError):
        return 0


def max_open(conns):
    """Most TCP connections the server had open at once."""
    ev = sorted([(parse_time(c["time"]), 1) for c in conns] +
                [(parse_time(c["end"]), -1) for c in conns])
    best = cur = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0


def cmd_fleet(a):
    est = os.path.abspath(os.path.join(a.build, "est-enroll"))
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    sizes = [int(x) for x in a.sizes.split(",")]
    big = a.outage_n or max(sizes)
    srv = Server(os.path.join(out, "srv-fleet"), "--nodelay")
    fleet = Fleet()
    res = {"sizes": [], "outage": [], "outage_n": big}
    stores, enrolled = [], False
    try:
        # -- 1. N clients started together, each a first enrollment
        for n in sizes:
            for s in stores:
                s.remove()
            stores = [Store(out, f"f{n}-{i}", srv) for i in range(n)]
            log(f"fleet: {n} clients enrolling together")
            time.sleep(0.5)
            mk, cpu0, drops0 = srv.mark(), srv.cpu(), listen_drops()
            t0, prep = fleet.start_together([(s, s.argv(est, "run", "--once"), s.env)
                                             for s in stores])
            done = fleet.wait()
            t1 = time.time()
            reqs, conns = srv.since(mk)
            cpu = srv.cpu() - cpu0
            ts = [parse_time(r["time"]) for r in reqs]
            span = (max(ts) - min(ts)) if len(ts) > 1 else 0
            walls = [(d[2] - d[1]) * 1000 for d in done]
            rcs = {}
            for d in done:
                rcs[d[3]] = rcs.get(d[3], 0) + 1
            res["sizes"].append({
                "n": n, "total_s": t1 - t0, "prep_s": prep,
                "listen_drops": listen_drops() - drops0, "max_open": max_open(conns),
                "requests": len(reqs), "conns": len(conns),
                "handshakes": sum(1 for c in conns if c["handshake"]),
                "req_per_s": len(reqs) / span if span else 0,
                "peak_1s": peak_rate(ts, 1.0),
                "wall_p50": pct(walls, 0.5), "wall_p95": pct(walls, 0.95),
                "wall_max": max(walls), "rc": rcs, "server_cpu_s": cpu,
                "client_cpu_s": sum(d[4] for d in done) / 1000,
                "client_cpu_ms_p50": pct([d[4] for d in done], 0.5)})
            log(f"fleet: {res['sizes'][-1]}")
            enrolled = all(d[3] == 0 for d in done)
        if len(stores) != big or not enrolled:
            for s in stores:
                s.remove()
            stores = [Store(out, f"f{big}-{i}", srv) for i in range(big)]
            log(f"fleet: enrolling {big} clients for the outage runs")
            schedule(fleet, [(random.uniform(0, a.spread), s, s.argv(est, "run", "--once"),
                              s.env) for s in stores], time.time())
            fleet.wait()
        # -- 2. the outage, four ways back
        D, O = a.spread, a.outage
        strategies = [
            ("timer, no RandomizedDelaySec", "timer", 0, None),
            (f"timer, RandomizedDelaySec={D:g}s (scaled)", "timer", D, None),
            (f"in-process retry_interval={a.retry_short}s (+0–50% jitter)", "retry", 0,
             a.retry_short),
            (f"in-process retry_interval={a.retry_long}s (+0–50% jitter)", "retry", 0,
             a.retry_long),
        ]
        for label, kind, delay, interval in strategies:
            log(f"fleet: outage, {big} clients, {label}")
            for s in stores:
                s.write_conf(srv, extra={"retry_interval": f"{interval or 60}s",
                                         "retry_timeout": "300s"})
            srv.set_behaviour([])
            time.sleep(1.0)
            mk, cpu0 = srv.mark(), srv.cpu()
            # steady: each client's renewal at its own time, spread by the timer over D
            t_steady = time.time()
            schedule(fleet, [(random.uniform(0, D), s, s.argv(est, "renew", "--once"), s.env)
                             for s in stores], t_steady)
            steady_done = fleet.wait()
            time.sleep(1.0)
            cpu_steady = srv.cpu() - cpu0
            # outage: the server answers 503 to everything; the fleet, aligned by the event
            # that took the server down (a site power cut: every device boots at once), runs
            # its pass together and gets 75
            srv.set_behaviour(["cacerts-status 503", "csrattrs-status 503", "status 503"])
            t_down = time.time()
            cpu1, drops1 = srv.cpu(), listen_drops()
            if kind == "retry":
                mk_down = srv.mark()
                t_down, _ = fleet.start_together([(s, s.argv(est, "renew"), s.env)
                                                  for s in stores])
                # up again once every client has had its first attempt refused (one
                # connection per attempt, however many requests a refused attempt makes)
                while (len({r["conn"] for r in srv.since(mk_down, settle=False)[0]})
                       < len(stores) and time.time() - t_down < 120):
                    time.sleep(0.05)
                dt = t_down + O - time.time()
                if dt > 0:
                    time.sleep(dt)
                srv.set_behaviour([])
                t_up, drops_up = time.time(), listen_drops()
                drops_out = drops_up - drops1
                rec_done = fleet.wait()
                out_done = []
            else:
                t_down, _ = fleet.start_together([(s, s.argv(est, "renew", "--once"), s.env)
                                                  for s in stores])
                out_done = fleet.wait()
                dt = t_down + O - time.time()
                if dt > 0:
                    time.sleep(dt)
                srv.set_behaviour([])
                t_up, drops_up = time.time(), listen_drops()
                drops_out = drops_up - drops1
                # the next timer run: all at once, or spread by RandomizedDelaySec
                if delay:
                    schedule(fleet, [(random.uniform(0, delay), s,
                                      s.argv(est, "renew", "--once"), s.env) for s in stores],
                             t_up)
                else:
                    t_up, _ = fleet.start_together([(s, s.argv(est, "renew", "--once"), s.env)
                                                    for s in stores])
                rec_done = fleet.wait()
            t_end = time.time()
            time.sleep(0.5)
            cpu_rec = srv.cpu() - cpu1
            drops = listen_drops() - drops_up
            reqs, conns = srv.since(mk)
            ts_all = [parse_time(r["time"]) for r in reqs]
            steady_ts = [t for t in ts_all if t < t_down]
            down_ts = [t for t in ts_all if t_down <= t < t_up]
            up_ts = [t for t in ts_all if t >= t_up]
            st_span = (max(steady_ts) - min(steady_ts)) if len(steady_ts) > 1 else 1
            rec_walls = [(d[2] - max(d[1], t_up)) * 1000 for d in rec_done]
            steady_conns = [c for c in conns if parse_time(c["time"]) < t_down]
            rec_conns = [c for c in conns if parse_time(c["time"]) >= t_up]
            rcs_rec = {}
            for d in rec_done:
                rcs_rec[d[3]] = rcs_rec.get(d[3], 0) + 1
            rcs_out = {}
            for d in out_done:
                rcs_out[d[3]] = rcs_out.get(d[3], 0) + 1
            steady_rate = len(steady_ts) / st_span
            peak_after = peak_rate(up_ts, 1.0)
            res["outage"].append({
                "label": label, "kind": kind, "delay": delay, "interval": interval,
                "t_steady": t_steady, "t_down": t_down, "t_up": t_up, "t_end": t_end,
                "steady_rate": steady_rate,
                "steady_peak_1s": peak_rate(steady_ts, 1.0),
                "steady_max_open": max_open(steady_conns), "rec_max_open": max_open(rec_conns),
                "listen_drops": drops, "listen_drops_outage": drops_out,
                "steady_rc": {str(k): sum(1 for d in steady_done if d[3] == k)
                              for k in {d[3] for d in steady_done}},
                "outage_requests": len(down_ts), "outage_rc": rcs_out,
                "after_requests": len(up_ts), "peak_after_1s": peak_after,
                "peak_after_100ms": peak_rate(up_ts, 0.1),
                "renewed_after_s": max(d[2] for d in rec_done) - t_up if rec_done else 0,
                "ratio": peak_after / steady_rate if steady_rate else 0,
                "recovered_s": (max(up_ts) - t_up) if up_ts else 0,
                "rec_wall_p50": pct(rec_walls, 0.5), "rec_wall_p95": pct(rec_walls, 0.95),
                "rec_wall_max": max(rec_walls) if rec_walls else 0,
                "rec_rc": rcs_rec, "server_cpu_steady_s": cpu_steady,
                "server_cpu_outage_recovery_s": cpu_rec,
                "times": ts_all})
            o = dict(res["outage"][-1])
            o.pop("times")
            log(f"fleet: {o}")
    finally:
        fleet.close()
        srv.stop()
        for s in stores:
            s.remove()
        KEYRINGS.cleanup()
    with open(os.path.join(out, "fleet.json"), "w") as f:
        json.dump(res, f)
    text = report_fleet(res, a)
    with open(os.path.join(out, "fleet.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def report_fleet(res, a):
    lines = ["N clients started together, each a first enrollment (`run --once`, EC P-256, "
             "its own keystore), one test server (`--nodelay`):", "",
             "| N | total s | requests | TCP conns | req/s (mean) | req/s (peak 1 s) "
             "| pass wall p50 / p95 / max ms | exit codes | connections open at once (max) "
             "| listen queue drops | server CPU s (% of a core) | clients' CPU s (per pass ms) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["sizes"]:
        rc = ", ".join(f"{k}: {v}" for k, v in sorted(r["rc"].items(), key=lambda x: str(x)))
        lines.append(
            f"| {r['n']} | {r['total_s']:.2f} | {r['requests']} "
            f"| {r['conns']} | {r['req_per_s']:.0f} | {r['peak_1s']:.0f} "
            f"| {r['wall_p50']:.0f} / {r['wall_p95']:.0f} / {r['wall_max']:.0f} | {rc} "
            f"| {r['max_open']} | {r['listen_drops']} "
            f"| {r['server_cpu_s']:.2f} ({100 * r['server_cpu_s'] / r['total_s']:.0f}%) "
            f"| {r['client_cpu_s']:.2f} ({r['client_cpu_ms_p50']:.1f}) |")
    lines += ["", f"Outage: {res['outage_n']} enrolled clients; steady renewals spread over "
              f"{a.spread:g} s; then the server answers 503 to everything (at least {a.outage:g} s, "
              "until every client's pass has failed) while the whole fleet runs a pass at once; "
              "then the clients come back:", "",
              "| way back | steady req/s (mean / peak 1 s) | 503s | exit codes in the outage "
              "| peak req/s after (1 s) | peak after / steady mean | peak req/s after (100 ms) "
              "| all renewed after s | pass wall p50 / p95 / max ms | exit codes after "
              "| connections open at once, steady / after | listen queue drops, outage / after "
              "| server CPU s (outage+after) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in res["outage"]:
        rc = ", ".join(f"{k}: {v}" for k, v in sorted(o["rec_rc"].items(), key=lambda x: str(x)))
        orc = ", ".join(f"{k}: {v}" for k, v in sorted(o["outage_rc"].items(),
                                                        key=lambda x: str(x))) or "(in retry)"
        wall = (f"{o['rec_wall_p50']:.0f} / {o['rec_wall_p95']:.0f} / {o['rec_wall_max']:.0f}"
                if o["kind"] == "timer" else "– (one process sleeping in between)")
        lines.append(
            f"| {o['label']} | {o['steady_rate']:.0f} / {o['steady_peak_1s']:.0f} "
            f"| {o['outage_requests']} | {orc} | {o['peak_after_1s']:.0f} | {o['ratio']:.1f}× "
            f"| {o['peak_after_100ms']:.0f} | {o['renewed_after_s']:.1f} | {wall} | {rc} "
            f"| {o['steady_max_open']} / {o['rec_max_open']} "
            f"| {o['listen_drops_outage']} / {o['listen_drops']} "
            f"| {o['server_cpu_outage_recovery_s']:.2f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- plot

def cmd_plot(a):
    res = json.load(open(os.path.join(a.out, "fleet.json")))
    dat = os.path.join(a.out, "fleet.dat")
    series = []
    with open(dat, "w") as f:
        for idx, o in enumerate(res["outage"]):
            t0 = o["t_down"]
            lo = o["t_steady"] - t0
            hi = o["t_end"] - t0 + 2
            w = 0.5
            bins = rate_bins([t - t0 for t in o["times"]], lo, hi, w)
            f.write(f"# {o['label']}\n")
            for i, b in enumerate(bins):
                f.write(f"{lo + i * w:.2f} {b:.1f}\n")
            f.write("\n\n")
            series.append((idx, o["label"], o["t_up"] - t0))
    up = statistics.median(s[2] for s in series)
    gp = [f"set terminal pngcairo size 1100,900 font 'sans,10'",
          f"set output '{a.png}'",
          f"set multiplot layout {len(series)},1 title 'est-enroll fleet of "
          f"{res['outage_n']}: server requests per second (0.5 s bins); grey: the outage "
          f"(every request answered 503, {up:.0f} s)' noenhanced",
          "set xlabel 'seconds from the start of the outage'",
          "set ylabel 'requests/s'", "set grid", "set key top right noenhanced",
          "set style fill transparent solid 0.15 noborder"]
    ymax = max(max(rate_bins(o["times"], o["t_steady"], o["t_end"] + 2, 0.5))
               for o in res["outage"]) * 1.1
    xmin = min(o["t_steady"] - o["t_down"] for o in res["outage"])
    xmax = max(o["t_end"] - o["t_down"] + 2 for o in res["outage"])
    gp.append(f"set xrange [{xmin:.0f}:{xmax:.0f}]")
    gp.append(f"set yrange [0:{ymax:.0f}]")
    colors = ["#d62728", "#2ca02c", "#ff7f0e", "#1f77b4"]
    for idx, label, t_up in series:
        gp.append(f"set object 1 rect from 0,0 to {t_up:.2f},{ymax:.0f} "
                  "fc rgb '#888888' fs transparent solid 0.15 noborder behind")
        gp.append(f"plot '{dat}' index {idx} using 1:2 with steps lw 1.5 "
                  f"lc rgb '{colors[idx % 4]}' title '{label}'")
    gp.append("unset multiplot")
    script = os.path.join(a.out, "fleet.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    subprocess.run(["gnuplot", script], check=True)
    log(f"wrote {a.png}")
    return 0


# ---------------------------------------------------------------- profile

PROFILE_FUNCS = [
    # (label, function names: the inclusive cost of the first one that exists)
    ("ld.so: map + relocate the shared libraries (before main)", ["_dl_start"]),
    ("symbol lookups (at start and in dlopen)", ["_dl_lookup_symbol_x"]),
    ("library constructors (_dl_init)", ["_dl_init"]),
    ("libcurl (and libssl) bound with dlopen (_dl_open)", ["_dl_open", "dlopen"]),
    ("… curl_global_init (OpenSSL's libssl init, once)", ["curl_global_init"]),
    ("main (all of the program's own work)", ["main"]),
    ("config file: INI + value checks (config_load)", ["config_load"]),
    ("ca_root read + fingerprint (config_load_secrets)", ["config_load_secrets"]),
    ("idle check from the stored bytes (pass_idle)", ["pass_idle"]),
    ("openssl.cnf, read once a pass has work (crypto_load_config)", ["crypto_load_config"]),
    ("certificate parsing (d2i_X509, all calls)", ["d2i_X509"]),
    ("… OpenSSL 3 decoder set-up for public keys (OSSL_DECODER_CTX_new_for_pkey)",
     ["OSSL_DECODER_CTX_new_for_pkey"]),
    ("private key parsing (crypto_key_from_pem)", ["crypto_key_from_pem"]),
    ("private key encoding (crypto_key_to_pem)", ["crypto_key_to_pem"]),
    ("stored pair read (pass_load_enrolled)", ["pass_load_enrolled"]),
    ("anchors read (pass_load_anchors)", ["pass_load_anchors"]),
    ("keystore open + keyring heal (keystore_open, keystore_load)", ["keystore_open"]),
    ("… keystore_load", ["keystore_load"]),
    ("HTTP exchanges (http_request, all)", ["http_request"]),
    ("… libcurl's transfers (curl_easy_perform)", ["curl_easy_perform"]),
    ("… TLS context (SSL_CTX_new), our anchors and key pair (on_ssl_ctx)", ["SSL_CTX_new_ex",
                                                                            "SSL_CTX_new"]),
    ("… … on_ssl_ctx", ["on_ssl_ctx"]),
    ("… TLS handshake (SSL_connect / SSL_do_handshake)", ["SSL_connect", "SSL_do_handshake"]),
    ("… server chain verification (X509_verify_cert)", ["X509_verify_cert"]),
    ("… DNS (getaddrinfo, libcurl's resolver thread)", ["getaddrinfo"]),
    ("key generation (EVP_PKEY_generate)", ["EVP_PKEY_generate", "EVP_PKEY_keygen"]),
    ("request key stored before the CSR (store_request_key)", ["store_request_key"]),
    ("CSR signing (X509_REQ_sign_ctx)", ["X509_REQ_sign_ctx", "X509_REQ_sign"]),
    ("commit: checks + store (pass_commit)", ["pass_commit"]),
    ("[export] files (export_all)", ["export_all"]),
]


def callgrind_inclusive(cgfile):
    """function name -> inclusive Ir, from callgrind_annotate --inclusive=yes."""
    p = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                        "--auto=no", cgfile], capture_output=True, text=True)
    total, incl = 0, {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.endswith("PROGRAM TOTALS"):
            total = int(line.split()[0].replace(",", ""))
            continue
        w = line.split(None, 1)
        if len(w) != 2 or not w[0].replace(",", "").isdigit():
            continue
        ir = int(w[0].replace(",", ""))
        rest = w[1]
        if rest.startswith("("):        # "(NN.NN%)  file:function [lib]"
            rest = rest.split(")", 1)[1].strip()
        fn = rest.split(":", 1)[1] if ":" in rest else rest
        fn = fn.split(" [", 1)[0].strip()
        incl[fn] = max(incl.get(fn, 0), ir)
    return total, incl, p.stdout


def cmd_profile(a):
    est = os.path.abspath(os.path.join(a.build, "est-enroll"))
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if not shutil.which("valgrind"):
        log("profile: valgrind missing, skipped")
        return 0
    srv = Server(os.path.join(out, "srv-prof"), "--nodelay")
    results = []
    try:
        st = Store(out, "prof", srv)
        runs = [("enroll P-256 (first pass)", ["run", "--once"]),
                ("idle pass (run, nothing due)", ["run", "--once"]),
                ("status", ["status"]),
                ("renew P-256", ["renew", "--once"])]
        for name, cmd in runs:
            cg = os.path.join(out, "cg." + name.split()[0] + "-" + cmd[0])
            subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg,
                            *st.argv(est, *cmd)], env=st.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            total, incl, text = callgrind_inclusive(cg)
            with open(cg + ".txt", "w") as f:
                f.write(text)
            results.append((name, total, incl))
        st.remove()
    finally:
        srv.stop()
        KEYRINGS.cleanup()
    lines = ["Instructions (callgrind Ir, inclusive; the client's own threads included), "
             "one run each:", "",
             "| where | " + " | ".join(r[0] for r in results) + " |",
             "|---|" + "---|" * len(results)]
    lines.append("| **total** | " + " | ".join(f"**{r[1] / 1e6:.1f} M**" for r in results)
                 + " |")
    for label, names in PROFILE_FUNCS:
        cells = []
        for _, total, incl in results:
            v = next((incl[n] for n in names if n in incl), None)
            cells.append("–" if v is None else f"{v / 1e6:.2f} M ({100 * v / total:.0f}%)")
        if any(c != "–" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "profile.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description="est-enroll benchmark driver")
    ap.add_argument("what", choices=("passes", "fleet", "profile", "plot"))
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", required=True)
    ap.add_argument("-n", type=int, default=7, help="runs per figure (passes)")
    ap.add_argument("--sizes", default="1,10,100,500", help="fleet sizes")
    ap.add_argument("--outage-n", type=int, default=0, help="fleet size of the outage runs")
    ap.add_argument("--spread", type=float, default=20.0,
                    help="steady spread and RandomizedDelaySec of the outage runs, s")
    ap.add_argument("--outage", type=float, default=3.0, help="outage length, s")
    ap.add_argument("--retry-short", type=int, default=5)
    ap.add_argument("--retry-long", type=int, default=60)
    ap.add_argument("--png", default=os.path.join(HERE, "fleet.png"))
    a = ap.parse_args(argv)
    return {"passes": cmd_passes, "fleet": cmd_fleet, "profile": cmd_profile,
            "plot": cmd_plot}[a.what](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
