"""Pydantic models of the OCI runtime-spec v1.3.0 container configuration.

This module is THE declaration of the config format in ocipy. Everything
else is derived from it or proved equal to it:

* ``ocipy/spec/_table.py`` is generated from these classes by
  ``python3 -m ocipy.spec.gen`` (checked by tests/unit/test_spec_generated.py);
* ``ocipy/spec/validate.py`` walks that table on the hot path and is proved to
  reject exactly what ``Spec.model_validate`` rejects, at the same location
  (tests/unit/test_spec_validate.py).

Importing pydantic costs tens of milliseconds, so only tests, the generator
and rich (non-hot) paths import this module.

Conventions (the generator enforces them and refuses anything else):

* Attribute names are the JSON names (camelCase, as in the spec), so that a
  grep for a JSON key finds its declaration. The one exception is ``class``
  (a Python keyword), declared as ``class_`` with ``alias="class"``.
* Every model is strict (no coercion: ``"0"`` is not an integer, ``true`` is
  not an integer, ``1.0`` is not an integer, as in Go's encoding/json and the
  JSON schema) and ignores unknown fields, as config.md "Extensibility"
  requires: "Runtimes MAY log unknown properties but MUST otherwise ignore
  them."
* An OPTIONAL field is declared with its JSON type and a default of None:
  absent means None, but an explicit ``null`` is rejected. The spec's types
  have no null (the schema says ``"type": "integer"``, not ``["integer",
  "null"]``), so ``"uid": null`` is a mistake worth reporting.
* Numeric ranges are those of the schema (``defs.json``: uint32, int64...),
  enums are ``Literal``, and the schema's few regex ``pattern``s are
  ``Field(pattern=...)``. Pydantic checks patterns with Rust-regex semantics
  in which ``$`` only matches at the very end (like the ECMA-262 regexes
  JSON Schema specifies); validate.py's regex-free predicates follow that.

Where the prose of the spec and the JSON schema disagree, the prose wins (the
schema is a machine-readable aid; the text is normative). Each such place is
marked "TEXT:" below and listed in tests/unit/test_spec_validate.py, which
uses the official schema as a second judge:

* REQUIRED in the text, optional in the schema: ``root`` (on every platform
  but Windows), ``process.args`` (at least one entry, non-Windows),
  ``process.user.uid``/``gid`` (POSIX), ``process.ioPriority.priority``,
  ``linux.memoryPolicy.mode``, ``linux.personality.domain``, the ``rate`` of
  block-IO throttle entries.
* Closed lists given in the text only: cgroup device rule ``type``
  (``a``/``b``/``c``), ``linux.timeOffsets`` clock names (``boottime``,
  ``monotonic``: the only clocks a time namespace can offset).
* ``annotations`` keys MUST NOT be empty (the schema's ``patternProperties``
  ``.{1,}`` simply leaves the empty key unconstrained).
* Looser than the schema: ``linux.resources.pids.limit`` is OPTIONAL since
  v1.3.0 (the schema still requires it); ``linux.devices[].fileMode`` is a
  uint32 in the text (the schema caps it at 0o777, but S_ISUID & co. and the
  type bits runc strips do occur in real configs); ``rootfsPropagation``
  also accepts the recursive forms runc and runtime-tools accept
  (``rprivate``, ``rslave``, ``rshared``, ``runbindable``); the sections of
  other platforms (windows, solaris, vm, zos, freebsd) are opaque objects.

Rules the type system cannot express (absolute paths, duplicates, "required
unless", "at least one of"...) are not declared here but in
``validate.check_rules``, each quoting the spec sentence it enforces.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# ---------------------------------------------------------------------------
# Scalar types of schema/defs.json.

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Uint16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
Uint32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
Uint64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
NonEmptyStr = Annotated[str, Field(min_length=1)]

# The schema's regex patterns (grep -n pattern schema/*.json).
RLIMIT_PATTERN = r"^RLIMIT_[A-Z]+$"
CPU_LIST_PATTERN = r"^[0-9, -]*$"
PAGE_SIZE_PATTERN = r"^[1-9][0-9]*[KMG]B$"
DEVICE_TYPE_PATTERN = r"^[cbup]$"
MEM_BW_SCHEMA_PATTERN = r"^MB:[^\n]*$"


class _Model(BaseModel):
    """Base of every spec object: strict types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


# ---------------------------------------------------------------------------
# Common parts (config.md).


class Root(_Model):
    path: str
    readonly: bool = None


class IDMapping(_Model):
    """LinuxIDMapping: user namespace and idmapped-mount id ranges."""

    containerID: Uint32
    hostID: Uint32
    size: Uint32


class Mount(_Model):
    destination: str
    source: str = None
    options: list[str] = None
    type: str = None
    uidMappings: list[IDMapping] = None
    gidMappings: list[IDMapping] = None


class ConsoleSize(_Model):
    height: Uint64
    width: Uint64


class User(_Model):
    # TEXT: "uid (int, REQUIRED)", "gid (int, REQUIRED)" on POSIX platforms.
    uid: Uint32
    gid: Uint32
    umask: Uint32 = None
    additionalGids: list[Uint32] = None
    username: str = None  # Windows


class POSIXRlimit(_Model):
    type: Annotated[str, Field(pattern=RLIMIT_PATTERN)]
    soft: Uint64
    hard: Uint64


class Capabilities(_Model):
    bounding: list[str] = None
    effective: list[str] = None
    inheritable: list[str] = None
    permitted: list[str] = None
    ambient: list[str] = None


SchedulerPolicy = Literal[
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
]
SchedulerFlag = Literal[
    "SCHED_FLAG_RESET_ON_FORK",
    "SCHED_FLAG_RECLAIM",
    "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",
    "SCHED_FLAG_KEEP_PARAMS",
    "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
]


class Scheduler(_Model):
    policy: SchedulerPolicy
    nice: Int32 = None
    priority: Int32 = None
    flags: list[SchedulerFlag] = None
    runtime: Uint64 = None
    deadline: Uint64 = None
    period: Uint64 = None


class IOPriority(_Model):
    class_: Literal["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"] = Field(
        alias="class"
    )
    # TEXT: "priority (int, REQUIRED)". The 0..7 range is prose ("should be
    # an integer ranging from 0 (highest) to 7 (lowest)"): check_rules.
    priority: Int32


class CPUAffinity(_Model):
    initial: Annotated[str, Field(pattern=CPU_LIST_PATTERN)] = None
    final: Annotated[str, Field(pattern=CPU_LIST_PATTERN)] = None


class Process(_Model):
    terminal: bool = None
    consoleSize: ConsoleSize = None
    user: User = None
    cwd: str
    env: list[str] = None
    # TEXT: "at least one entry is REQUIRED (non-Windows)".
    args: Annotated[list[str], Field(min_length=1)]
    commandLine: str = None  # Windows
    rlimits: list[POSIXRlimit] = None
    apparmorProfile: str = None
    capabilities: Capabilities = None
    noNewPrivileges: bool = None
    oomScoreAdj: int = None
    scheduler: Scheduler = None
    selinuxLabel: str = None
    ioPriority: IOPriority = None
    execCPUAffinity: CPUAffinity = None


class Hook(_Model):
    path: str
    args: list[str] = None
    env: list[str] = None
    timeout: Annotated[int, Field(ge=1)] = None


class Hooks(_Model):
    prestart: list[Hook] = None  # DEPRECATED in the spec, still honoured
    createRuntime: list[Hook] = None
    createContainer: list[Hook] = None
    startContainer: list[Hook] = None
    poststart: list[Hook] = None
    poststop: list[Hook] = None


# ---------------------------------------------------------------------------
# Linux (config-linux.md).

NamespaceType = Literal["mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"]


class Namespace(_Model):
    type: NamespaceType
    path: str = None


class TimeOffset(_Model):
    secs: Int64 = None
    nanosecs: Uint32 = None


class Device(_Model):
    type: Annotated[str, Field(pattern=DEVICE_TYPE_PATTERN)]
    path: str
    # TEXT: "fileMode (uint32, OPTIONAL)"; the schema's FileMode is 0..511.
    fileMode: Uint32 = None
    # "REQUIRED unless type is p": check_rules.
    major: Int64 = None
    minor: Int64 = None
    uid: Uint32 = None
    gid: Uint32 = None


class NetDevice(_Model):
    name: str = None


class DeviceCgroup(_Model):
    allow: bool
    # TEXT: "type of device: a (all), c (char), or b (block)".
    type: Literal["a", "b", "c"] = None
    major: Int64 = None
    minor: Int64 = None
    access: str = None


class Memory(_Model):
    limit: Int64 = None
    reservation: Int64 = None
    swap: Int64 = None
    kernel: Int64 = None
    kernelTCP: Int64 = None
    swappiness: Uint64 = None
    disableOOMKiller: bool = None
    useHierarchy: bool = None
    checkBeforeUpdate: bool = None


class CPU(_Model):
    shares: Uint64 = None
    quota: Int64 = None
    burst: Uint64 = None
    period: Uint64 = None
    realtimeRuntime: Int64 = None
    realtimePeriod: Uint64 = None
    cpus: str = None
    mems: str = None
    idle: Int64 = None


class Pids(_Model):
    # TEXT (v1.3.0): "limit (int64, OPTIONAL)"; the schema still requires it.
    limit: Int64 = None


class WeightDevice(_Model):
    major: Int64
    minor: Int64
    # "You MUST specify at least one of weight or leafWeight": check_rules.
    weight: Uint16 = None
    leafWeight: Uint16 = None


class ThrottleDevice(_Model):
    major: Int64
    minor: Int64
    # TEXT: "rate (uint64, REQUIRED)".
    rate: Uint64


class BlockIO(_Model):
    weight: Uint16 = None
    leafWeight: Uint16 = None
    weightDevice: list[WeightDevice] = None
    throttleReadBpsDevice: list[ThrottleDevice] = None
    throttleWriteBpsDevice: list[ThrottleDevice] = None
    throttleReadIOPSDevice: list[ThrottleDevice] = None
    throttleWriteIOPSDevice: list[ThrottleDevice] = None


class HugepageLimit(_Model):
    pageSize: Annotated[str, Field(pattern=PAGE_SIZE_PATTERN)]
    limit: Uint64


class InterfacePriority(_Model):
    name: str
    priority: Uint32


class Network(_Model):
    classID: Uint32 = None
    priorities: list[InterfacePriority] = None


class Rdma(_Model):
    # "You MUST specify at least one of hcaHandles or hcaObjects": check_rules.
    hcaHandles: Uint32 = None
    hcaObjects: Uint32 = None


class Resources(_Model):
    devices: list[DeviceCgroup] = None
    memory: Memory = None
    cpu: CPU = None
    pids: Pids = None
    blockIO: BlockIO = None
    hugepageLimits: list[HugepageLimit] = None
    network: Network = None
    rdma: dict[str, Rdma] = None
    unified: dict[str, str] = None


SeccompAction = Literal[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
]
SeccompArch = Literal[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
]
SeccompFlag = Literal[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]
SeccompOperator = Literal[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
]


class SyscallArg(_Model):
    index: Uint32
    value: Uint64
    valueTwo: Uint64 = None
    op: SeccompOperator


class Syscall(_Model):
    names: Annotated[list[str], Field(min_length=1)]
    action: SeccompAction
    errnoRet: Uint32 = None
    args: list[SyscallArg] = None


class Seccomp(_Model):
    defaultAction: SeccompAction
    defaultErrnoRet: Uint32 = None
    architectures: list[SeccompArch] = None
    flags: list[SeccompFlag] = None
    listenerPath: str = None
    # "MUST NOT be set if listenerPath is not set": check_rules.
    listenerMetadata: str = None
    syscalls: list[Syscall] = None


class IntelRdt(_Model):
    closID: str = None
    schemata: list[str] = None
    l3CacheSchema: str = None
    memBwSchema: Annotated[str, Field(pattern=MEM_BW_SCHEMA_PATTERN)] = None
    enableMonitoring: bool = None


class MemoryPolicy(_Model):
    # TEXT: "mode (string, REQUIRED)".
    mode: Literal[
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_WEIGHTED_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY",
        "MPOL_LOCAL",
    ]
    nodes: str = None
    flags: list[
        Literal["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
    ] = None


class Personality(_Model):
    # TEXT: "domain (string, REQUIRED)".
    domain: Literal["LINUX", "LINUX32"]
    flags: list[str] = None


# The spec values plus the recursive forms runc (mountPropagationMapping) and
# runtime-tools' generator accept, which real configs carry.
RootfsPropagation = Literal[
    "private",
    "shared",
    "slave",
    "unbindable",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
]


class Linux(_Model):
    namespaces: list[Namespace] = None
    uidMappings: list[IDMapping] = None
    gidMappings: list[IDMapping] = None
    # TEXT: "The name of the clock is the entry key"; a time namespace only
    # offsets these two clocks, anything else cannot be honoured.
    timeOffsets: dict[Literal["boottime", "monotonic"], TimeOffset] = None
    devices: list[Device] = None
    netDevices: dict[str, NetDevice] = None
    cgroupsPath: str = None
    resources: Resources = None
    rootfsPropagation: RootfsPropagation = None
    seccomp: Seccomp = None
    sysctl: dict[str, str] = None
    maskedPaths: list[str] = None
    readonlyPaths: list[str] = None
    mountLabel: str = None
    intelRdt: IntelRdt = None
    memoryPolicy: MemoryPolicy = None
    personality: Personality = None


# ---------------------------------------------------------------------------
# The document.


class Spec(_Model):
    """config.json."""

    # SemVer 1.x: checked by load.check_version (a grammar, not a type).
    ociVersion: str
    # TEXT: "On all other platforms [than Windows], this field is REQUIRED."
    root: Root
    mounts: list[Mount] = None
    process: Process = None
    hostname: str = None
    domainname: str = None
    hooks: Hooks = None
    # TEXT: "Keys MUST NOT be an empty string." "Values MUST be strings."
    annotations: dict[NonEmptyStr, str] = None
    linux: Linux = None
    # Other platforms: kept opaque (an object, otherwise unchecked).
    solaris: dict[str, Any] = None
    windows: dict[str, Any] = None
    vm: dict[str, Any] = None
    zos: dict[str, Any] = None
    freebsd: dict[str, Any] = None
