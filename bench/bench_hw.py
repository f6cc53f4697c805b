#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Keys in hardware for bench.py's passes (issue 16): a SoftHSM2 token and an swtpm behind
tpm2-abrmd on a private D-Bus, each started under the run's directory, reset between runs and
stopped by PID; a kind whose packages are absent is left out with a note."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time


BENCH_ID = os.environ.get("BENCH_ID", str(os.getpid()))


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def ossl_modules_dir():
    """OpenSSL's provider directory (`openssl version -m`): pkcs11.so, tpm2.so."""
    try:
        p = subprocess.run(["openssl", "version", "-m"], capture_output=True, text=True)
    except OSError:
        return ""
    w = p.stdout.split('"')
    return w[1] if len(w) >= 3 else ""


def free_port_pair():
    """A port P of 127.0.0.1 with P+1 free too (swtpm's TCTI finds the control port at P+1)."""
    for _ in range(100):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            try:
                b.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
            return p
    raise RuntimeError("no free pair of ports")


def stop_pid(pid, timeout=5.0):
    """SIGTERM to one daemon we started (never by name), SIGKILL if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Token:
    """A SoftHSM2 token of the run's own (SOFTHSM2_CONF under DIR), new for each run as a
    device's first enrollment finds it. The module runs inside the client: its CPU and
    memory are the client's."""
    NAME = "a SoftHSM2 token"
    LABEL, PIN, SO_PIN = "device", "1234", "5678"

    @staticmethod
    def absent():
        if not os.path.exists(os.path.join(ossl_modules_dir(), "pkcs11.so")):
            return "pkcs11-provider (bookworm-backports: tests/deps-backports.sh)"
        if not os.path.exists(SOFTHSM_MODULE) or not shutil.which("softhsm2-util"):
            return "softhsm2"
        return None

    def __init__(self, d):
        self.tokens = os.path.join(d, "tokens")
        os.makedirs(self.tokens, exist_ok=True)
        conf = os.path.join(d, "softhsm2.conf")
        with open(conf, "w") as f:
            f.write(f"directories.tokendir = {self.tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
        pin = os.path.join(d, "pin")
        fd = os.open(pin, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.PIN + "\n")
        self.env = {"SOFTHSM2_CONF": conf}
        self.extra = {"key_storage": f"pkcs11:token={self.LABEL}",
                      "pkcs11_module": SOFTHSM_MODULE, "pkcs11_pin_file": pin}
        self.reset()    # softhsm2-util works: else the rows are left out before the runs

    def reset(self):
        """An empty token again: the last run left its key in it."""
        shutil.rmtree(self.tokens)
        os.makedirs(self.tokens)
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", self.LABEL,
                        "--pin", self.PIN, "--so-pin", self.SO_PIN],
                       env=dict(os.environ, **self.env), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)

    def daemon_cpu(self):
        return None

    def daemons_rss(self):
        return {}

    def stop(self):
        pass


class Tpm:
    """swtpm (a TPM 2.0 in software, on two TCP ports) behind tpm2-abrmd on a private
    session bus: the way a device reaches its TPM through the kernel's resource manager
    (/dev/tpmrm0). The three daemons are stopped by their PIDs."""
    NAME = "swtpm (through tpm2-abrmd)"

    @staticmethod
    def absent():
        if not os.path.exists(os.path.join(ossl_modules_dir(), "tpm2.so")):
            return "tpm2-openssl"
        for cmd, pkg in (("swtpm", "swtpm"), ("tpm2-abrmd", "tpm2-abrmd"),
                         ("dbus-daemon", "dbus-daemon"), ("busctl", "systemd")):
            if not shutil.which(cmd):
                return pkg
        for lib, pkg in (("libtss2-tcti-swtpm.so.0", "libtss2-tcti-swtpm0"),
                         ("libtss2-tcti-tabrmd.so.0", "libtss2-tcti-tabrmd0")):
            if not glob.glob(f"/usr/lib/*/{lib}"):
                return pkg
        return None

    def __init__(self, d):
        self.dir = d
        self.pids = {}      # daemon -> PID
        self.abrmd = None
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    def start(self):
        d = self.dir
        os.makedirs(os.path.join(d, "state"), exist_ok=True)
        port = free_port_pair()
        with open(os.path.join(d, "swtpm.err"), "w") as err:
            subprocess.run(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={d}/state",
                            "--flags", "not-need-init,startup-clear",
                            "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                            "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                            "--pid", f"file={d}/swtpm.pid", "--log", f"file={d}/swtpm.log",
                            "--daemon"], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                           check=True)
        with open(os.path.join(d, "swtpm.pid")) as f:
            self.pids["swtpm"] = int(f.read())
        # a file, not a pipe: the forked daemon would hold a pipe open
        with open(os.path.join(d, "dbus"), "w+") as f:
            subprocess.run(["dbus-daemon", "--session", "--fork", "--nopidfile",
                            "--print-address=1", "--print-pid=1"], stdin=subprocess.DEVNULL,
                           stdout=f, stderr=subprocess.DEVNULL, check=True)
            f.seek(0)
            addr, pid = f.read().split()[:2]
        self.pids["dbus-daemon"] = int(pid)
        bus = f"com.intel.tss2.Tabrmd.bench{BENCH_ID}"
        self.env = {"DBUS_SESSION_BUS_ADDRESS": addr, "TSS2_LOG": "all+none"}
        with open(os.path.join(d, "abrmd.log"), "w") as err:
            self.abrmd = subprocess.Popen(
                ["tpm2-abrmd", "--session", "--allow-root", f"--dbus-name={bus}",
                 f"--tcti=swtpm:port={port}"], env=dict(os.environ, **self.env),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        self.pids["tpm2-abrmd"] = self.abrmd.pid
        # abrmd takes its bus name a moment after it starts (bounded wait, 20 s)
        for _ in range(200):
            if self.abrmd.poll() is not None:
                raise RuntimeError(f"tpm2-abrmd exited {self.abrmd.returncode}: "
                                   f"{d}/abrmd.log")
            p = subprocess.run(["busctl", f"--address={addr}", "list", "--no-legend"],
                               capture_output=True, text=True)
            if bus in (line.split()[0] for line in p.stdout.splitlines() if line.strip()):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{bus} not on the bus after 20 s")
        self.extra = {"key_storage": "tpm",
                      "tpm_tcti": f"tabrmd:bus_type=session,bus_name={bus}"}

    def reset(self):
        pass

    def daemon_cpu(self):
        """CPU ms the daemons have used so far, every live thread's (schedstat: ns, not
        ticks; a 10 ms tick is more than a pass costs them)."""
        ns = 0
        for pid in self.pids.values():
            for stat in glob.glob(f"/proc/{pid}/task/*/schedstat"):
                try:
                    with open(stat) as f:
                        ns += int(f.read().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
        return ns / 1e6

    def daemons_rss(self):
        """daemon -> its peak RSS so far (VmHWM, KiB)."""
        res = {}
        for name, pid in self.pids.items():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            res[name] = int(line.split()[1])
            except OSError:
                pass
        return res

    def stop(self):
        if self.abrmd is not None:
            self.abrmd.terminate()
            try:
                self.abrmd.wait(5)
            except subprocess.TimeoutExpired:
                self.abrmd.kill()
                self.abrmd.wait()
            self.abrmd = None
            self.pids.pop("tpm2-abrmd", None)
        for name in ("dbus-daemon", "swtpm"):
            if name in self.pids:
                stop_pid(self.pids.pop(name))


HW_KINDS = (("p11", Token), ("tpm", Tpm))


def hw_start(out, started):
    """Appends (tag, kind) to started for each kind of hardware that is there and starts;
    the others are left out with a note."""
    for tag, kind in HW_KINDS:
        why = kind.absent()
        if why:
            log(f"passes: no {why}: the rows with the key in {kind.NAME} are left out")
            continue
        try:
            started.append((tag, kind(os.path.join(out, f"hw-{tag}"))))
        except subprocess.CalledProcessError as e:
            log(f"passes: {kind.NAME} did not start ({e.cmd[0]} exited {e.returncode}, "
                f"see {out}/hw-{tag}): its rows are left out")
        except (OSError, ValueError, RuntimeError) as e:
            log(f"passes: {kind.NAME} did not start ({e}): its rows are left out")
