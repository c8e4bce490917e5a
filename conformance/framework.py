"""The suite's machinery: the check registry, bundles, containers driven through a runtime's
CLI (runc's: create/start/state/kill/delete), and the per-runtime context.

A check is a function `f(ctx)` registered with `@check(ID, REQ, ...)`; it returns normally
(PASS), raises Fail(reason) or Skip(why the host cannot support it). Each REQ names the spec
statement it checks: 'FILE#ANCHOR: "quoted words of the sentence"' (the quote must occur in
exactly the statement(s) it means, see registry.resolve_reqs).
"""
from __future__ import annotations

import copy
import json
import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field

# --- the registry ----------------------------------------------------------------------

_REQ = re.compile(r'^\s*([\w.-]+\.md)#([\w.-]+):\s*"(.+)"\s*$', re.S)


class Fail(Exception):
    """The runtime does not do what the requirement says."""


class Skip(Exception):
    """The host cannot support what the requirement needs."""


@dataclass(frozen=True)
class Req:
    file: str
    anchor: str
    quote: str

    def __str__(self) -> str:
        return f'{self.file}#{self.anchor}: "{self.quote}"'


@dataclass
class Check:
    id: str
    reqs: tuple[Req, ...]
    func: object
    module: str
    doc: str = ""


CHECKS: dict[str, Check] = {}
_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def parse_req(text: str) -> Req:
    m = _REQ.match(text)
    if not m:
        raise ValueError(f'requirement {text!r} is not FILE#ANCHOR: "QUOTE"')
    return Req(m.group(1), m.group(2), m.group(3).replace('\\"', '"'))


def check(cid: str, *reqs: str):
    if not _ID.match(cid):
        raise ValueError(f"check id {cid!r}: lower-case dotted words")
    if not reqs:
        raise ValueError(f"check {cid} names no requirement")
    parsed = tuple(parse_req(r) for r in reqs)

    def deco(func):
        if cid in CHECKS:
            raise ValueError(f"duplicate check id {cid}")
        doc = (func.__doc__ or "").strip().split("\n")[0]
        CHECKS[cid] = Check(cid, parsed, func, func.__module__, doc)
        return func
    return deco


def expect(cond, reason: str) -> None:
    if not cond:
        raise Fail(reason)


# --- the default configuration ----------------------------------------------------------

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_config(args=("true",)) -> dict:
    """runc's `spec` (1.1) with root writable and ociVersion 1.3.0, terminal off."""
    return {
        "ociVersion": "1.3.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


def build_rootfs(dest: str, busybox: str = "/bin/busybox") -> None:
    """hack/mkbundle's layout: busybox + one symlink per applet in bin/, the usual dirs,
    /etc/passwd and /etc/group with root (0:0) and user (1000:1000)."""
    if not os.path.isfile(busybox):
        raise Skip(f"{busybox} not found (apt-get install busybox-static)")
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root", "home/user", "var/run"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    os.chmod(os.path.join(dest, "root"), 0o700)
    shutil.copy(busybox, os.path.join(dest, "bin", "busybox"))
    os.chmod(os.path.join(dest, "bin", "busybox"), 0o755)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout
    for a in applets.split():
        if a and "/" not in a and a not in (".", "..", "busybox"):
            os.symlink("busybox", os.path.join(dest, "bin", a))
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nuser:x:1000:\n")
    os.chown(os.path.join(dest, "home", "user"), 1000, 1000)


# --- runtimes and containers -----------------------------------------------------------

_LOGFMT = re.compile(r'^time="[^"]*" level=\w+ msg="(.*)"\s*$')


def last_line(text: str) -> str:
    """The last non-empty line, without a logfmt time/level wrapper (runc's)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    m = _LOGFMT.match(line)
    if m:
        line = m.group(1).replace('\\"', '"')
    return line[:300]


@dataclass
class Proc:
    rc: int
    out: str
    err: str

    @property
    def why(self) -> str:
        return last_line(self.err) or last_line(self.out) or f"exit {self.rc}"


class Runtime:
    def __init__(self, name: str, path: str, root: str):
        self.name, self.path, self.root = name, path, root

    def __call__(self, *args, timeout: float = 30, stdout=None, stderr=None, input=None,
                 global_args=(), oom_score_adj: int | None = None) -> Proc:
        argv = [self.path, "--root", self.root, *global_args, *map(str, args)]
        kw = {}
        if oom_score_adj is not None:
            def pre():
                with open("/proc/self/oom_score_adj", "w") as f:
                    f.write(str(oom_score_adj))
            kw["preexec_fn"] = pre
        try:
            r = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                               stdout=stdout if stdout is not None else subprocess.PIPE,
                               stderr=stderr if stderr is not None else subprocess.PIPE,
                               text=True, timeout=timeout, **kw)
        except subprocess.TimeoutExpired:
            raise Fail(f"`{' '.join(map(str, args))}` did not return within {timeout} s")
        return Proc(r.returncode, r.stdout or "", r.stderr or "")


class Bundle:
    def __init__(self, ctx: "Ctx", path: str, cfg: dict):
        self.ctx, self.path, self.cfg = ctx, path, cfg

    @property
    def rootfs(self) -> str:
        return os.path.join(self.path, "rootfs")

    def write(self) -> None:
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.cfg, f, indent=1)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def read(self, name: str, default: str | None = None) -> str:
        try:
            with open(self.file(name)) as f:
                return f.read()
        except FileNotFoundError:
            if default is not None:
                return default
            raise


class Container:
    def __init__(self, ctx: "Ctx", bundle: Bundle, cid: str):
        self.ctx, self.bundle, self.id = ctx, bundle, cid
        self.rt = ctx.rt

    def create(self, check: bool = True, extra=(), global_args=(), oom_score_adj=None) -> Proc:
        self.ctx.created.append(self.id)
        with open(self.bundle.file("stdout"), "w") as out, open(self.bundle.file("stderr"), "w") as err:
            r = self.rt("create", "--bundle", self.bundle.path, *extra, self.id, stdout=out, stderr=err,
                        global_args=global_args, oom_score_adj=oom_score_adj)
        r.err = self.bundle.read("stderr", "")
        if check and r.rc != 0:
            raise Fail(f"create failed: {r.why}")
        return r

    def start(self, check: bool = True) -> Proc:
        r = self.rt("start", self.id)
        if check and r.rc != 0:
            raise Fail(f"start failed: {r.why}")
        return r

    def state(self, check: bool = True) -> dict | None:
        r = self.rt("state", self.id)
        if r.rc != 0:
            if check:
                raise Fail(f"state failed: {r.why}")
            return None
        try:
            return json.loads(r.out)
        except ValueError:
            raise Fail(f"state printed no JSON: {r.out[:80]!r}")

    def status(self) -> str | None:
        st = self.state(check=False)
        return st.get("status") if st else None

    def kill(self, sig: str = "KILL", check: bool = False) -> Proc:
        r = self.rt("kill", self.id, sig)
        if check and r.rc != 0:
            raise Fail(f"kill {sig} failed: {r.why}")
        return r

    def delete(self, force: bool = False, check: bool = False) -> Proc:
        r = self.rt("delete", *(["--force"] if force else []), self.id)
        if check and r.rc != 0:
            raise Fail(f"delete failed: {r.why}")
        return r

    def wait(self, timeout: float = 10) -> None:
        """Wait until the container process has exited (status stopped)."""
        st = self.state()
        pid = st.get("pid") or 0
        if st.get("status") == "stopped" or not pid:
            return
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            fd = None
        if fd is not None:
            try:
                if not select.select([fd], [], [], timeout)[0]:
                    raise Fail(f"container process {pid} still running after {timeout} s")
            finally:
                os.close(fd)
        end = time.monotonic() + 3
        while self.status() not in ("stopped", None):
            if time.monotonic() > end:
                raise Fail(f"status is still {self.status()!r} after the process exited")
            time.sleep(0.01)

    def stdout(self) -> str:
        return self.bundle.read("stdout", "")

    def stderr(self) -> str:
        return self.bundle.read("stderr", "")


@dataclass
class Output:
    out: str
    err: str
    state_created: dict | None = None


class Ctx:
    """Everything a check may use, for one runtime."""

    def __init__(self, rt: Runtime, workdir: str, template: str, tag: str):
        self.rt = rt
        self.workdir = workdir
        self.template = template
        self.tag = tag
        self.memo: dict = {}
        self.created: list[str] = []
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return f"cf{self.tag}-{self._n}"

    def bundle(self, args=("true",), edit=None, script: str | None = None) -> Bundle:
        self._n += 1
        path = os.path.join(self.workdir, self.rt.name, f"b{self._n}")
        os.makedirs(path)
        subprocess.run(["cp", "-a", self.template, os.path.join(path, "rootfs")], check=True)
        cfg = default_config(["sh", "-c", script] if script is not None else args)
        if edit:
            edit(cfg)
        b = Bundle(self, path, cfg)
        b.write()
        return b

    def container(self, bundle: Bundle) -> Container:
        return Container(self, bundle, self.new_id())

    def run(self, script: str | None = None, edit=None, args=("true",), timeout: float = 10,
            bundle: Bundle | None = None) -> Output:
        """create, start, wait for the exit, delete: the container's stdout and stderr."""
        b = bundle or self.bundle(args=args, edit=edit, script=script)
        c = self.container(b)
        c.create()
        st = c.state(check=False)
        c.start()
        c.wait(timeout)
        out = Output(c.stdout(), c.stderr(), st)
        c.delete()
        return out

    def once(self, key, fn):
        """Memoise a probe shared by several checks (its Fail/Skip is remembered too)."""
        if key not in self.memo:
            try:
                self.memo[key] = ("ok", fn())
            except (Fail, Skip) as e:
                self.memo[key] = ("exc", e)
        kind, val = self.memo[key]
        if kind == "exc":
            raise type(val)(*val.args)
        return val

    def cleanup(self) -> list[str]:
        """delete --force every container this context made; returns ids still listed."""
        for cid in dict.fromkeys(self.created):
            if os.path.exists(os.path.join(self.rt.root, cid)):
                self.rt("delete", "--force", cid, timeout=20)
        try:
            return sorted(n for n in os.listdir(self.rt.root) if not n.startswith("."))
        except FileNotFoundError:
            return []


# --- pure parsers ----------------------------------------------------------------------

@dataclass
class Mount:
    mount_id: int
    parent: int
    root: str
    point: str
    opts: set
    optional: list
    fstype: str
    source: str
    super_opts: set = field(default_factory=set)

    def peer(self, tag: str) -> str | None:
        for o in self.optional:
            if o == tag or o.startswith(tag + ":"):
                return o
        return None


def _unescape(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def parse_mountinfo(text: str) -> list[Mount]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts[6:]:
            continue
        sep = parts.index("-", 6)
        out.append(Mount(int(parts[0]), int(parts[1]), _unescape(parts[3]), _unescape(parts[4]),
                         set(parts[5].split(",")), parts[6:sep], parts[sep + 1],
                         _unescape(parts[sep + 2]), set(parts[sep + 3].split(",")) if len(parts) > sep + 3 else set()))
    return out


def find_mount(mounts: list[Mount], point: str) -> Mount | None:
    """The last (topmost) mount at `point`."""
    found = None
    for m in mounts:
        if m.point == point:
            found = m
    return found


def parse_status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


CAP_NAMES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]


def cap_mask(names) -> int:
    m = 0
    for n in names:
        m |= 1 << CAP_NAMES.index(n.removeprefix("CAP_"))
    return m


def cap_names(mask: int) -> list[str]:
    return ["CAP_" + n for i, n in enumerate(CAP_NAMES) if mask >> i & 1]


def parse_limits(text: str) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits -> {"Max open files": ("1024", "2048")}."""
    out = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"^(.+?)\s{2,}(\S+)\s+(\S+)", line)
        if m:
            out[m.group(1).strip()] = (m.group(2), m.group(3))
    return out


def sections(text: str) -> dict[str, str]:
    """Split output written as '==NAME==' header lines followed by content."""
    out: dict[str, list[str]] = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^==([\w./-]+)==$", line)
        if m:
            cur = m.group(1)
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def dump(*items: tuple[str, str]) -> str:
    """A shell script printing each ('NAME', 'shell command') under an ==NAME== header."""
    return "; ".join(f"echo =={n}==; {c} 2>&1" for n, c in items)


def deep_copy(cfg: dict) -> dict:
    return copy.deepcopy(cfg)
