"""The registration files of docs/registering.md (docs/config/), loaded by
the real clients installed here:

- containerd: `containerd --config FILE config dump` shows the runtime
  handler with the runc shim and BinaryName; every option is one the runc
  shim knows (a typo would be dumped silently otherwise);
- Docker 20.10 (no `dockerd --validate` before 23.0): a private dockerd
  started with the daemon.json lists the runtime in `docker info` and runs a
  container with `--runtime ocipy`; the same with `--add-runtime`;
- Podman: CONTAINERS_CONF=docs/config/containers.conf and `--runtime ocipy`
  by name runs the container with ocipy (its state in /run/ocipy), conmon
  hands it --log-format=json, and Podman shows ocipy's own error message;
- CRI-O is not packaged in Debian 12: its file is parsed with tomllib and
  checked for the keys CRI-O reads (crio.conf(5));
- the RuntimeClass's handler is the name both CRI files give the runtime.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import tomllib

import pytest

import podmanlib as pl

REPO = pl.REPO
CONFIG = os.path.join(REPO, "docs", "config")
DOC = os.path.join(REPO, "docs", "registering.md")
CONTAINERD = "/usr/bin/containerd"
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client (/usr/local/bin/docker is a foreign one)
OCIPY = "/usr/local/bin/ocipy"  # the path the files give

CRI = 'plugins."io.containerd.grpc.v1.cri"'


def cfg(name: str) -> str:
    return os.path.join(CONFIG, name)


def need(path: str) -> None:
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not installed (hack/setup installs it)")


def toml_file(name: str) -> dict:
    with open(cfg(name), "rb") as f:
        return tomllib.load(f)


# -- the doc shows the files ---------------------------------------------------------

def test_the_doc_includes_every_file_verbatim():
    doc = open(DOC).read()
    names = sorted(os.listdir(CONFIG))
    assert names == ["containerd-config.toml", "containers.conf", "crio.conf", "daemon.json",
                     "runtimeclass.yaml"]
    for n in names:
        body = open(cfg(n)).read().strip()
        assert f"docs/config/{n}" in doc, n
        assert body in doc, f"docs/registering.md does not show docs/config/{n} as it is"
    readme = open(os.path.join(REPO, "README.md")).read()
    assert "docs/registering.md" in readme


# -- containerd ----------------------------------------------------------------------

def test_containerd_loads_the_runtime_handler():
    need(CONTAINERD)
    r = subprocess.run([CONTAINERD, "--config", cfg("containerd-config.toml"), "config", "dump"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    dump = tomllib.loads(r.stdout)
    rt = dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["ocipy"]
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == OCIPY
    assert rt["options"]["Root"] == "/run/containerd/ocipy"
    assert dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["default_runtime_name"] == "runc"
    # the options are opaque to containerd: compare with the runc shim's own
    r = subprocess.run([CONTAINERD, "config", "default"], capture_output=True, text=True, timeout=60)
    known = set(tomllib.loads(r.stdout)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
                ["runtimes"]["runc"]["options"])
    assert "BinaryName" in known and set(rt["options"]) <= known, set(rt["options"]) - known


# -- Docker --------------------------------------------------------------------------

class Dockerd:
    """A private dockerd: its own data-root, exec-root (its containerd in
    there), socket and pidfile; no bridge, no iptables rules; containers'
    cgroups under /ocipy-reg-docker (not Docker's /docker; absolute, not
    relative to the test's own cgroup), removed at stop."""

    CGROUP_PARENT = "ocipy-reg-docker"

    def __init__(self, *flags: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="ocipy-reg-dockerd-", dir="/var/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.had_key = os.path.exists("/etc/docker/key.json")
        self.log = open(os.path.join(self.dir, "dockerd.log"), "w")
        argv = [DOCKERD, "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", os.path.join(self.dir, "exec"),
                "--pidfile", os.path.join(self.dir, "dockerd.pid"), "-H", f"unix://{self.sock}",
                "--bridge", "none", "--iptables=false", "--ip6tables=false",
                "--ip-forward=false", "--ip-masq=false",  # never change the host's sysctls
                "--cgroup-parent", "/" + self.CGROUP_PARENT, *flags]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                  env={"PATH": pl.PATH_ENV}, start_new_session=True)
        ok = pl.wait_for(lambda: self.p.poll() is not None or (
            os.path.exists(self.sock) and self.docker("version").returncode == 0), 60, 0.1)
        if not ok or self.p.poll() is not None:
            log = self.tail()
            self.stop()
            raise AssertionError(f"dockerd did not start: {log}")

    def tail(self) -> str:
        with open(os.path.join(self.dir, "dockerd.log")) as f:
            return "".join(f.readlines()[-20:])

    def docker(self, *args, timeout: float = 60, input: bytes | None = None):
        return subprocess.run([DOCKER, "-H", f"unix://{self.sock}", *args], capture_output=True,
                              timeout=timeout, input=input, stdin=None if input else subprocess.DEVNULL,
                              env={"PATH": pl.PATH_ENV, "DOCKER_CONFIG": os.path.join(self.dir, "client")})

    def stop(self) -> list[str]:
        problems = []
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                problems.append("dockerd ignored TERM for 30 s: killed")
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        # its containerd and shims name the exec-root on their command lines
        for _ in range(50):
            left = [pid for pid in _pids_naming(self.dir)]
            if not left:
                break
            time.sleep(0.1)
        for pid in _pids_naming(self.dir):
            problems.append(f"process {pid} left: killed")
            os.kill(pid, signal.SIGKILL)
        for mp in pl.mounts_below(self.dir):
            subprocess.run(["umount", mp], capture_output=True)
        left = pl.mounts_below(self.dir)
        if left:
            problems.append(f"mounts left: {left} (directory kept)")
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", self.dir])
        for h in pl.cgroup_hierarchies():
            d = os.path.join(h, self.CGROUP_PARENT)
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                problems.append(f"cgroup {d}: {e.strerror}")
        if not self.had_key and os.path.exists("/etc/docker/key.json"):
            os.unlink("/etc/docker/key.json")  # dockerd 20.10's trust key, made for us
            try:
                os.rmdir("/etc/docker")
            except OSError:
                pass
        return problems


def _pids_naming(needle: str) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return out


def _docker_runs_ocipy(d: Dockerd, tmp_path) -> None:
    info = d.docker("info", "--format", "{{json .Runtimes}}")
    assert info.returncode == 0, info.stderr
    runtimes = json.loads(info.stdout)
    assert runtimes["ocipy"]["path"] == OCIPY, runtimes
    tar = subprocess.run(["tar", "-C", _rootfs(tmp_path), "-c", "."], capture_output=True, check=True).stdout
    r = d.docker("import", "-", "localhost/ocipy-busybox:reg", input=tar, timeout=120)
    assert r.returncode == 0, r.stderr
    r = d.docker("run", "-d", "--runtime", "ocipy", "--network", "none", "localhost/ocipy-busybox:reg",
                 "sleep", "1000")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.decode().strip()
    try:
        # the shim ran ocipy: its state (ocipy's state.json, with init_start) is under the shim's Root
        states = [os.path.join(dp, "state.json") for dp, _, fs in os.walk(os.path.join(d.dir, "exec"))
                  if os.path.basename(dp) == cid and "state.json" in fs]
        assert states, f"no state.json for {cid} under {d.dir}/exec"
        with open(states[0]) as f:
            assert "init_start" in json.load(f)  # ocipy's field (runc's state.json has none)
        pid = int(d.docker("inspect", "--format", "{{.State.Pid}}", cid).stdout)
        with open(f"/proc/{pid}/cgroup") as f:
            assert f"memory:/{Dockerd.CGROUP_PARENT}/{cid}" in f.read()
        r = d.docker("exec", cid, "sh", "-c", "echo exec-ok; exit 4")
        assert (r.returncode, r.stdout) == (4, b"exec-ok\n"), r.stderr
    finally:
        r = d.docker("rm", "--force", cid)
        assert r.returncode == 0, r.stderr


def _rootfs(tmp_path) -> str:
    b = str(tmp_path / "src")
    subprocess.run([os.path.join(REPO, "hack", "mkbundle"), b, "--", "true"], check=True,
                   env=dict(os.environ, MKBUNDLE_SPEC="runc"), capture_output=True)
    return os.path.join(b, "rootfs")


@pytest.mark.parametrize("how", ["daemon.json", "--add-runtime"])
def test_docker_registers_ocipy(how, tmp_path):
    need(DOCKERD)
    need(DOCKER)
    need(OCIPY)
    with open(cfg("daemon.json")) as f:
        conf = json.load(f)
    if how == "daemon.json":
        d = Dockerd("--config-file", cfg("daemon.json"))
    else:
        # the same registration as flags (an empty config file: not /etc/docker/daemon.json)
        empty = tmp_path / "empty.json"
        empty.write_text("{}")
        d = Dockerd("--config-file", str(empty), "--add-runtime", f"ocipy={conf['runtimes']['ocipy']['path']}",
                    "--exec-opt", conf["exec-opts"][0])
    try:
        _docker_runs_ocipy(d, tmp_path)
    finally:
        problems = d.stop()
    assert not problems, problems


# -- Podman --------------------------------------------------------------------------

def test_podman_runs_ocipy_by_name():
    if pl.missing():
        pytest.skip(pl.missing())
    if not os.access(OCIPY, os.X_OK):
        pytest.skip(f"{OCIPY} not installed")
    p = pl.Podman(conf_path=cfg("containers.conf"), prefix="ocipy-reg-podman-")
    try:
        p.import_busybox()
        # this host's hard limits are below Podman's default nofile/nproc for
        # root (1048576) and CAP_SYS_RESOURCE is not in the bounding set: any
        # runtime refuses that; ask for what the host can grant
        lim = ("--ulimit", "nofile=1024:4096", "--ulimit", "nproc=4096:4096")
        r = p("run", "-d", "--name", "reg", "--runtime", "ocipy", "--network", "none", *lim,
              pl.IMAGE, "sleep", "1000")
        assert r.returncode == 0, r.stderr
        info = p.inspect("reg")
        cid = info["Id"]
        assert info["OCIRuntime"] == "ocipy"
        assert os.path.isdir(f"/run/ocipy/{cid}"), "ocipy holds no state for the container"
        with open(os.path.join(p.runroot, f"{p.driver}-containers", cid, "userdata", "conmon.pid")) as f:
            conmon = int(f.read())
        with open(f"/proc/{conmon}/cmdline", "rb") as f:
            argv = f.read().decode().split("\0")
        assert argv[argv.index("-r") + 1] == OCIPY
        assert "--log-format=json" in argv, argv  # runtime_supports_json names ocipy
        r = p("exec", "reg", "sh", "-c", "echo exec-ok")
        assert (r.returncode, r.stdout) == (0, "exec-ok\n"), r.stderr
        r = p("rm", "--force", "--time", "0", "reg")
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(f"/run/ocipy/{cid}")
        # ocipy's own message, read by Podman from the JSON log
        r = p("run", "--rm", "--runtime", "ocipy", "--network", "none", *lim, pl.IMAGE, "/nonexistent")
        assert r.returncode == 127
        assert 'Error: ocipy: exec: "/nonexistent": ' in r.stderr, r.stderr  # Podman names it
    finally:
        problems = p.close()
    assert not problems, problems


# -- CRI-O and Kubernetes -----------------------------------------------------------

# the keys CRI-O reads in a [crio.runtime.runtimes.NAME] table (crio.conf(5), CRI-O 1.2x)
CRIO_RUNTIME_KEYS = {
    "runtime_path", "runtime_type", "runtime_root", "runtime_config_path",
    "privileged_without_host_devices", "allowed_annotations", "platform_runtime_paths",
    "monitor_path", "monitor_cgroup", "monitor_env", "monitor_exec_cgroup",
    "default_annotations", "container_min_memory", "no_sync_log", "stream_websockets",
}


def test_crio_file_has_the_keys_crio_reads():
    # CRI-O is not packaged for Debian 12: the file is checked, not loaded
    conf = toml_file("crio.conf")
    assert set(conf) == {"crio"} and set(conf["crio"]) == {"runtime"}
    runtime = conf["crio"]["runtime"]
    assert runtime["default_runtime"] == "runc"
    assert runtime["cgroup_manager"] == "cgroupfs"
    handler = runtime["runtimes"]["ocipy"]
    assert set(handler) <= CRIO_RUNTIME_KEYS, set(handler) - CRIO_RUNTIME_KEYS
    assert handler["runtime_path"] == OCIPY
    assert handler["runtime_type"] == "oci"
    assert handler["runtime_root"] == "/run/ocipy"


def test_runtimeclass_handler_names_the_cri_runtimes():
    text = open(cfg("runtimeclass.yaml")).read()
    try:
        import yaml
        docs = [d for d in yaml.safe_load_all(text) if d]
    except ImportError:  # the two documents are simple: read the fields by hand
        docs = [dict(re.findall(r"^(\w+): *(\S+)$", part, re.M)) for part in text.split("\n---\n")]
        docs[0]["metadata"] = {"name": re.search(r"^  name: (\S+)$", text, re.M).group(1)}
        docs[1]["spec"] = {"runtimeClassName": re.search(r"runtimeClassName: (\S+)", text).group(1)}
    rc = next(d for d in docs if d["kind"] == "RuntimeClass")
    assert rc["apiVersion"] == "node.k8s.io/v1"
    handler = rc["handler"]
    assert handler in toml_file("containerd-config.toml")["plugins"]["io.containerd.grpc.v1.cri"][
        "containerd"]["runtimes"]
    assert handler in toml_file("crio.conf")["crio"]["runtime"]["runtimes"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", handler)  # a DNS label, as the API requires
    pod = next(d for d in docs if d["kind"] == "Pod")
    assert pod["spec"]["runtimeClassName"] == rc["metadata"]["name"]


def test_podman_file_registers_ocipy():
    conf = toml_file("containers.conf")
    assert conf["engine"]["runtimes"]["ocipy"] == [OCIPY]
    assert "ocipy" in conf["engine"]["runtime_supports_json"]
    # it replaces Podman's default list: those runtimes keep their JSON logs
    assert {"crun", "runc"} <= set(conf["engine"]["runtime_supports_json"])
