"""Differential tests: the same bundles (same config.json, same rootfs) run
under runc, the reference, and ocipy; what the container observes must be
equal, or differ only as documented below (both sides are printed on a
mismatch).

Documented, justified differences (normalised away, nothing else is):
- /sys/fs/cgroup/unified (cgroup2): this host is hybrid; ocipy also mounts
  the unified hierarchy under the cgroup mount, runc 1.1.5 only the v1
  controllers. Dropped from both sides.
- the tmpfs at /sys/fs/cgroup: the config asks "ro"; runc 1.1.5 leaves that
  tmpfs rw (only the controllers are ro), ocipy makes it ro as asked. Its
  ro/rw flag is not compared (test_cgroup_tmpfs_is_read_only checks ocipy).
- masked files (maskedPaths entries that are files) are bind mounts of a
  null device: runc binds the container's /dev/null (on the /dev tmpfs),
  ocipy the host's (devtmpfs); /proc/mounts then shows the fs type and
  flags of where that node lives. Their type and flags are not compared;
  that they read empty is (test_readonly_and_masked).
- with a user namespace, /dev/mqueue's group: runc mounts it before taking
  the container's root gid, so it shows the overflow gid 65534; ocipy mounts
  it as the container's root (0). Its gid is not compared.
- fd targets: runc's foreground `run` copies stdio through pipes it owns,
  ocipy hands its own stdio on; only fd numbers are compared.
"""
from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, Runtime, _env, ocipy_argv, write_config

PLAIN = {
    "id": "id",
    "hostname": "hostname",
    "status": "grep -E 'Cap|NoNewPrivs|Seccomp' /proc/self/status",
    "dev": "cd /dev && find . | sort | while read f; do stat -c '%n %A %u:%g %t:%T %N' \"$f\"; done; cd /",
    "ls_dev": "ls -la /dev | awk 'NR > 1 {print $1, $NF}'",
    "mounts": "cat /proc/mounts",
    "ulimit": "ulimit -a",
    "umask": "umask",
    "env": "env | sort",
    "cwd": "pwd",
    "uid_map": "cat /proc/self/uid_map /proc/self/gid_map",
    "fd": "ls /proc/self/fd",
    "signals": "grep -E '^Sig(Blk|Ign)' /proc/self/status",
    "creds": "grep -E '^(Uid|Gid|Groups)' /proc/self/status",
    "pid": "echo $$; cat /proc/self/oom_score_adj",
    "sysctl": "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname",
    "net": "cat /proc/net/dev | awk 'NR > 2 {print $1}'",
}

USERNS = {k: PLAIN[k] for k in ("id", "status", "dev", "mounts", "uid_map", "env")}
USERNS["owners"] = "stat -c '%n %u:%g %A' / /bin /etc /etc/passwd /tmp /proc /sys /dev /dev/pts"
USERNS["write"] = ("for p in / /tmp /dev /dev/shm /proc/sys /sys; do "
                   "if touch $p/.w 2>/dev/null; then echo \"$p rw\"; rm -f $p/.w; else echo \"$p ro\"; fi; done")

READONLY = {
    "write": ("for p in / /etc /tmp /home /home/user /dev /dev/shm /proc/sys /sys /var/run /root; do "
              "if touch $p/.w 2>/dev/null; then echo \"$p rw\"; rm -f $p/.w; else echo \"$p ro\"; fi; done"),
    "masked": ("for p in /etc/passwd /root /proc/kcore /proc/keys /sys/firmware; do "
               "if [ -d $p ]; then echo \"$p dir $(ls -A $p | wc -l)\"; "
               "else echo \"$p file $(cat $p 2>/dev/null | wc -c)\"; fi; done"),
    "mounts": "cat /proc/mounts",
}


def script(sections: dict) -> str:
    return "; ".join(f'echo "== {name}"; {cmd}' for name, cmd in sections.items())


def sections_of(out: str) -> dict:
    d, cur = {}, None
    for ln in out.splitlines():
        if ln.startswith("== "):
            cur = ln[3:]
            d[cur] = []
        elif cur is not None:
            d[cur].append(ln)
    return d


def userns(cfg):
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def readonly(cfg):
    cfg["root"]["readonly"] = True
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev"]})
    cfg["linux"]["maskedPaths"] += ["/etc/passwd", "/root"]
    cfg["linux"]["readonlyPaths"] += ["/home", "/tmp"]


USER = {k: PLAIN[k] for k in ("id", "status", "creds", "ulimit", "umask", "env", "cwd", "signals")}
USER["write"] = ("for p in /tmp /home/user /root /dev/shm; do "
                 "if touch $p/.w 2>/dev/null; then echo \"$p rw\"; rm -f $p/.w; else echo \"$p ro\"; fi; done")


def user(cfg):
    """A non-root user with extra groups, umask, cwd, env, rlimits and
    ambient capabilities that are also inheritable (so they are granted)."""
    cfg["root"]["readonly"] = False
    p = cfg["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 10], "umask": 0o027}
    p["cwd"] = "/home/user"
    p["env"] += ["FOO=bar", "HOME=/home/user"]
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 512},
                    {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                    {"type": "RLIMIT_NPROC", "hard": 500, "soft": 400}]
    caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    p["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    p["noNewPrivileges"] = False


CONFIGS = {"user": (USER, user), "plain": (PLAIN, None), "userns": (USERNS, userns), "readonly": (READONLY, readonly)}


class Pair:
    """runc and ocipy, each with its own root, and bundles made from the
    shared template; results cached per config for the module."""

    def __init__(self, template, tmp_path_factory):
        self.rootfs, self.base = template
        # not under pytest's 0700 basetemp: a user-namespaced runc init
        # (host uid 100000) must be able to reach the rootfs by path
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="ocipy-vs-runc-"))
        os.chmod(self.tmp, 0o755)
        self.rts = {
            "runc": Runtime([shutil.which("runc")], str(self.tmp / "runc-root"), "runc"),
            "ocipy": Runtime(ocipy_argv(), str(self.tmp / "ocipy-root"), "ocipy"),
        }
        self.cache = {}
        self.n = 0

    def bundle(self, args, edit) -> dict:
        cfg = copy.deepcopy(self.base)
        cfg["process"]["args"] = list(args)
        cfg["process"]["terminal"] = False
        if edit:
            edit(cfg)
        self.n += 1
        out = {}
        for name in self.rts:
            b = self.tmp / f"{name}-{self.n}"
            b.mkdir()
            subprocess.run(["cp", "-a", self.rootfs, str(b / "rootfs")], check=True)
            write_config(str(b), cfg)
            out[name] = str(b)
        return out

    def observe(self, config: str) -> dict:
        if config not in self.cache:
            sections, edit = CONFIGS[config]
            bs = self.bundle(["sh", "-c", script(sections)], edit)
            res = {}
            for name, rt in self.rts.items():
                r = rt("run", "--bundle", bs[name], f"vs-{config}", timeout=60)
                res[name] = (r.returncode, sections_of(r.stdout), r.stderr)
            self.cache[config] = res
        return self.cache[config]


@pytest.fixture(scope="module")
def pair(template, tmp_path_factory):
    if not shutil.which("runc"):
        pytest.skip("runc not installed")
    p = Pair(template, tmp_path_factory)
    yield p
    left = p.rts["ocipy"].cleanup()
    p.rts["runc"].cleanup()
    with open("/proc/self/mountinfo") as f:
        mounted = [ln for ln in f if str(p.tmp) in ln]
    if not mounted:  # never remove a tree across a mount
        shutil.rmtree(p.tmp)
    assert not mounted, f"host mounts under {p.tmp}: {mounted}"
    assert not left, f"ocipy containers left: {left}"


def both(pair, config, section, norm=lambda lines, rt: lines):
    res = pair.observe(config)
    for name, (rc, secs, err) in res.items():
        assert rc == 0, f"{name} run failed ({rc}): {err}"
        assert section in secs, f"{name}: no section {section}: {err}"
    return (norm(res["runc"][1][section], "runc"), norm(res["ocipy"][1][section], "ocipy"))


def assert_same(runc, ocipy, what):
    assert ocipy == runc, (f"{what} differs\n--- runc:\n" + "\n".join(map(str, runc)) +
                           "\n--- ocipy:\n" + "\n".join(map(str, ocipy)))


# -- normalisers -----------------------------------------------------------------

FLAGS = {"ro", "rw", "nosuid", "nodev", "noexec"}


def masked_paths(pair, config) -> set:
    cfg = copy.deepcopy(pair.base)
    if CONFIGS[config][1]:
        CONFIGS[config][1](cfg)
    return set(cfg["linux"].get("maskedPaths") or [])


def norm_mounts(pair, config):
    masked = masked_paths(pair, config)

    def norm(lines, rt):
        out = []
        for ln in lines:
            src, mp, typ, opts = ln.split()[:4]
            flags = sorted(FLAGS & set(opts.split(",")))
            if typ == "cgroup":  # the controller(s) of a v1 hierarchy
                flags += sorted(o for o in opts.split(",") if o not in FLAGS and "=" not in o
                                and o not in ("relatime", "noatime")) + \
                         sorted(o for o in opts.split(",") if o.startswith("name="))
            if mp == "/sys/fs/cgroup/unified" and typ == "cgroup2":
                continue
            if mp == "/sys/fs/cgroup" and typ == "tmpfs":
                flags = [f for f in flags if f not in ("ro", "rw")]
            if mp in masked and "ro" not in flags:  # a masked file: a bind of a null device
                typ, flags = "<null device>", []
            out.append((mp, typ, ",".join(flags)))
        return sorted(out)
    return norm


# -- the plain default config ------------------------------------------------

@pytest.mark.parametrize("section", ["id", "hostname", "status", "dev", "ls_dev", "ulimit", "umask",
                                     "env", "cwd", "uid_map", "signals", "creds", "pid", "sysctl", "net"])
def test_plain(pair, section):
    runc, ocipy = both(pair, "plain", section)
    assert_same(runc, ocipy, section)


def test_plain_mounts(pair):
    runc, ocipy = both(pair, "plain", "mounts", norm_mounts(pair, "plain"))
    assert_same(runc, ocipy, "/proc/mounts (mount point, type, flags)")


def test_plain_fds(pair):
    """Only stdio (and ls's own directory fd) inside: nothing of the runtime."""
    runc, ocipy = both(pair, "plain", "fd")
    assert_same(runc, ocipy, "ls /proc/self/fd")


def test_cgroup_tmpfs_is_read_only(pair):
    _, ocipy = both(pair, "plain", "mounts")
    tmpfs = [ln for ln in ocipy if ln.split()[1:3] == ["/sys/fs/cgroup", "tmpfs"]]
    assert tmpfs and "ro" in tmpfs[0].split()[3].split(","), ocipy


# -- a non-root user ---------------------------------------------------------

@pytest.mark.parametrize("section", sorted(USER))
def test_user(pair, section):
    runc, ocipy = both(pair, "user", section)
    assert_same(runc, ocipy, section)


# -- a user namespace -----------------------------------------------------------

@pytest.mark.parametrize("section", ["id", "status", "uid_map", "owners", "write", "env"])
def test_userns(pair, section):
    runc, ocipy = both(pair, "userns", section)
    assert_same(runc, ocipy, section)


def test_userns_dev(pair):
    def norm(lines, rt):
        return [ln.replace("./mqueue drwxrwxrwt 0:65534", "./mqueue drwxrwxrwt 0:<gid>")
                  .replace("./mqueue drwxrwxrwt 0:0", "./mqueue drwxrwxrwt 0:<gid>") for ln in lines]
    runc, ocipy = both(pair, "userns", "dev", norm)
    assert_same(runc, ocipy, "/dev under a user namespace")


def test_userns_mounts(pair):
    runc, ocipy = both(pair, "userns", "mounts", norm_mounts(pair, "userns"))
    assert_same(runc, ocipy, "/proc/mounts under a user namespace")


# -- read-only rootfs, readonlyPaths, maskedPaths ----------------------------

@pytest.mark.parametrize("section", ["write", "masked"])
def test_readonly_and_masked(pair, section):
    runc, ocipy = both(pair, "readonly", section)
    assert_same(runc, ocipy, section)


def test_readonly_mounts(pair):
    runc, ocipy = both(pair, "readonly", "mounts", norm_mounts(pair, "readonly"))
    assert_same(runc, ocipy, "/proc/mounts with readonly + masked paths")


# -- exit statuses -------------------------------------------------------------

def test_exit_status(pair):
    bs = pair.bundle(["sh", "-c", "exit 5"], None)
    codes = {name: rt("run", "--bundle", bs[name], "exit5").returncode for name, rt in pair.rts.items()}
    assert codes == {"runc": 5, "ocipy": 5}


def test_exit_status_when_killed(pair):
    bs = pair.bundle(["sleep", "1000"], None)
    codes = {}
    for name, rt in pair.rts.items():
        p = subprocess.Popen(rt.cmd("run", "--bundle", bs[name], "k9"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=REPO)
        try:
            pid = 0
            end = time.monotonic() + 15
            while time.monotonic() < end and not pid:
                r = rt("state", "k9")
                if r.returncode == 0 and json.loads(r.stdout)["status"] == "running":
                    pid = json.loads(r.stdout)["pid"]
                else:
                    time.sleep(0.02)
            assert pid, f"{name}: never running"
            os.kill(pid, signal.SIGKILL)
            codes[name] = p.wait(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == {"runc": 137, "ocipy": 137}
