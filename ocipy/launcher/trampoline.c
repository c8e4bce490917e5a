/* ocipy's exec trampoline (x86_64, no libc). ocipy/launcher/trampoline.py
 * embeds the bytes `python -m ocipy.launcher.trampoline --build` makes from
 * this file (tests/unit/test_trampoline.py rebuilds and compares).
 *
 * Why: the init and every `ocipy exec` child are the host's Python
 * interpreter until their last execve. Were that execve the user's program,
 * the kernel would resolve a "#!/proc/self/exe" script (or args[0]
 * "/proc/self/exe") to the host's /usr/bin/python3.11 and run it inside the
 * container, where it is dumpable and its /proc/<pid>/exe a handle on the
 * host binary (CVE-2019-5736). So ocipy first execs this program from a
 * sealed memfd: from then on /proc/self/exe is that memfd (unwritable, no
 * host file), and it execs the user's program.
 *
 * argv: MAGIC, ERRFD ("-" for none), PREFIX, PATH, ARGV0, ARGV1...
 * It marks ERRFD close-on-exec and execve(PATH, &ARGV0, envp). On failure:
 * with ERRFD, writes "\0" + the errno in decimal to it (ocipy formats it);
 * else writes PREFIX + "errno N\n" to fd 2. Exits 127. Run any other way
 * (argv[0] not MAGIC: a "#!/proc/self/exe" script, /proc/self/exe run
 * again) it refuses with exit 126.
 *
 * Wait mode (the init of a created container): ERRFD is "w" + the number of
 * an O_PATH fd on exec.fifo. The launcher execs it with a real gid other
 * than the effective one, which makes the kernel leave the process
 * non-dumpable at execve (no instant where /proc/<pid>/fd or ptrace is open
 * to the container). First PR_SET_DUMPABLE 0 (kept so by the next step),
 * setresgid(egid, egid, egid), then handlers that exit 128+N for HUP INT QUIT USR1 USR2
 * ALRM TERM (a pid namespace's init ignores signals it does not handle; the
 * launcher blocked them across its execve, unblocked here), then open
 * /proc/self/fd/N for writing (blocks until `start` opens the fifo for
 * reading), check it is the fifo (same dev:ino as the O_PATH fd), write "0",
 * close both, yield the CPU to `start`, and exec as above (errors on fd 2).
 * The interpreter's memory is gone while the container waits.
 *
 * Exec-stage mode (`ocipy exec`, launcher/execproc.py): ERRFD is "x" + the
 * number of a pipe; the arguments up to "--" are a list of steps computed
 * by the Python launcher (every value decided there: which namespaces,
 * masks, ids, limits, the PATH to search), executed in order; after "--"
 * come the process's args. This program holds no policy: it is the exec
 * child that runc writes in C (nsexec), without the interpreter's fork
 * (page tables, copy-on-write faults) and imports. The launcher
 * posix_spawns it from the sealed memfd; a step "F" forks the process
 * (CLONE_PARENT: a child of `ocipy exec` itself, born in the pid namespace
 * joined before) and this first process reports its pid ("p<pid>" on the
 * pipe) and exits. A failing step writes "e<index>,<errno>[,<detail>]"
 * and exits 1; warnings are "W<cap>,<errno>"; the last step execs the
 * program, which closes the pipe (close-on-exec): EOF means success.
 *
 * Create-wait mode (`ocipy create`, launcher/stages.py): ERRFD is "c" + the
 * number of the init's channel (read end); then the init's host pid, the
 * path of the interpreter and the CLI's own command line. Stage 0 execs
 * this once it has forked the init, so that the interpreter's memory is
 * not held twice while the container is set up: the init saves the state
 * itself and writes "ok" and closes the channel. Exactly "ok": exit 0.
 * Anything else (warnings, an error, nothing: the init died) goes back to
 * Python: the same command line again with OCIPY_CREATE_REPORT=<pid>
 * newline <what the channel said> in the environment (commands/create.py
 * logs it and, without "ok", removes the container).
 * Steps (numbers in decimal, comma-separated):
 *   D                 prctl(PR_SET_DUMPABLE, 0)
 *   n FD,TYPE         setns
 *   F CLIPID          clone(CLONE_PARENT); the child: PR_SET_PDEATHSIG KILL,
 *                     gone if its parent already changed
 *   w FD              write "0" (join a cgroup)
 *   o VALUE           VALUE to /proc/self/oom_score_adj
 *   r RES,SOFT,HARD   prlimit64 (detail on failure: the current hard limit)
 *   c FD              fchdir + chroot(".")
 *   d PATH            chdir to PATH resolved in "/" (openat2 RESOLVE_IN_ROOT |
 *                     NO_MAGICLINKS), then getcwd must be under "/" (detail 1)
 *   S                 setsid
 *   H UID             HOME=<UID's home in /etc/passwd, else "/"> added to the env
 *   O UID,GID         chown stdio pipes and sockets not owned by UID
 *   B LAST,MASK       drop from the bounding set every cap <= LAST not in MASK
 *   K 0|1             PR_SET_KEEPCAPS
 *   G GID,...         setgroups
 *   g GID / u UID     setresgid / setresuid (all three)
 *   C EFF,PERM,INH    capset (version 3)
 *   A LAST,MASK       raise ambient caps (failures are warnings)
 *   N                 PR_SET_NO_NEW_PRIVS
 *   m MASK            umask
 *   X FD,FLAGS,LEN    seccomp(SET_MODE_FILTER) of the LEN-byte program read from FD
 *   L PATH            find args[0] as execvp does with PATH (detail: 1 stat
 *                     failed, 2 not a regular file, 3 not executable, 4 not found)
 *   Z KEEP            fds 3..KEEP-1 inherited, every other fd >= KEEP closed
 *                     (the pipe: close-on-exec), PDEATHSIG cleared, execve */
#define MAGIC "\001ocipy-exec"

static long sc3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static long sc4(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static long sc6(long n, long a, long b, long c, long d, long e, long f) {
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

static long len(const char *s) { const volatile char *p = s; long n = 0; while (p[n]) n++; return n; }

static int same(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

static void put(long fd, const char *s) { sc3(1, fd, (long)s, len(s)); }

static char *utoa(unsigned long v, char *end) {
    *--end = 0;
    do { *--end = '0' + v % 10; v /= 10; } while (v);
    return end;
}

static long num(const char *c) {
    long n = 0;
    for (; *c >= '0' && *c <= '9'; c++) n = n * 10 + (*c - '0');
    return n;
}

__attribute__((noreturn)) static void fail(const char *what, long err) {
    char buf[24];
    put(2, "ocipy: exec.fifo: ");
    put(2, what);
    put(2, ": errno ");
    put(2, utoa((unsigned long)err, buf + sizeof buf));
    put(2, "\n");
    sc3(60, 1, 0, 0);
    __builtin_unreachable();
}

__attribute__((used, noreturn)) static void die(long sig) {
    sc3(231, 128 + sig, 0, 0); /* exit_group: as the Python init's handlers */
    __builtin_unreachable();
}
void restore(void); /* rt_sigreturn (never reached: die exits) */
__asm__(".globl restore\nrestore:\n mov $15, %eax\n syscall\n");

struct ksigaction { void (*handler)(long); unsigned long flags; void (*restorer)(void); unsigned long mask; };

static void wait_start(long fifo) {
    static const char sigs[] = {1, 2, 3, 10, 12, 14, 15};
    struct ksigaction sa;
    unsigned long mask = 0;
    long st[2][18], fd;
    char path[40], *p = path, *q;
    sa.handler = die;
    sa.flags = 0x04000000; /* SA_RESTORER */
    sa.restorer = restore;
    sa.mask = 0;
    for (unsigned i = 0; i < sizeof sigs; i++) {
        sc4(13, sigs[i], (long)&sa, 0, 8); /* rt_sigaction */
        mask |= 1UL << (sigs[i] - 1);
    }
    sc4(14, 1, (long)&mask, 0, 8); /* rt_sigprocmask(SIG_UNBLOCK): pending ones end us now */
    for (q = "/proc/self/fd/"; *q; q++) *p++ = *q;
    for (q = utoa((unsigned long)fifo, path + sizeof path); *q; q++) *p++ = *q;
    *p = 0;
    fd = sc4(257, -100, (long)path, 01 | 02000000, 0); /* openat(O_WRONLY|O_CLOEXEC): until `start` */
    if (fd < 0) fail("open", -fd);
    long r1 = sc3(5, fd, (long)st[0], 0), r2 = sc3(5, fifo, (long)st[1], 0); /* fstat */
    if (r1 < 0 || r2 < 0 || st[0][0] != st[1][0] || st[0][1] != st[1][1])
        fail("not the container's fifo", 22);
    long w = sc3(1, fd, (long)"0", 1);
    if (w != 1) fail("write", w < 0 ? -w : 5);
    sc3(3, fd, 0, 0);
    sc3(3, fifo, 0, 0);
    sc3(24, 0, 0, 0); /* sched_yield: let `start` read the byte and exit first */
}

/* ---- exec-stage mode (see the top of this file) ---------------------- */
static long xerrfd;
static char *xenv[65536 + 2];            /* the env, plus HOME */
static char xhome[4096 + 8];              /* "HOME=" + the directory */
static char pw[1 << 20];                 /* /etc/passwd (the first MiB) */
static char found[8192];                 /* args[0] found in PATH */
static unsigned xgids[65536];
static unsigned char prog[4096 * 8];     /* BPF_MAXINSNS instructions */

/* comma-separated decimals of s into v (at most max); returns how many */
static long nums(const char *s, unsigned long *v, long max) {
    long n = 0;
    if (!*s) return 0;
    for (;;) {
        unsigned long x = 0;
        while (*s >= '0' && *s <= '9') x = x * 10 + (unsigned long)(*s++ - '0');
        if (n < max) v[n] = x;
        n++;
        if (*s++ != ',') return n;
    }
}

static char *app(char *p, const char *s) { while (*s) *p++ = *s++; return p; }

static char *appn(char *p, long v) {
    char b[24];
    if (v < 0) { *p++ = '-'; v = -v; }
    return app(p, utoa((unsigned long)v, b + sizeof b));
}

/* one record on the pipe: KIND a[,b[,c]] */
static void report(char kind, long a, long b, long c, int n) {
    char buf[96], *p = buf;
    *p++ = kind;
    p = appn(p, a);
    if (n > 1) { *p++ = ','; p = appn(p, b); }
    if (n > 2) { *p++ = ','; p = appn(p, c); }
    *p++ = '\n';
    sc3(1, xerrfd, (long)buf, p - buf);
}

__attribute__((noreturn)) static void xfail(long i, long err, long detail) {
    report('e', i, err, detail, 3);
    sc3(231, 1, 0, 0);
    __builtin_unreachable();
}

static unsigned mode_of(long *st) { return ((unsigned *)st)[6]; }
static unsigned uid_of(long *st) { return ((unsigned *)st)[7]; }

static int prefix(const char *s, const char *pre) {
    while (*pre) if (*s++ != *pre++) return 0;
    return 1;
}

/* H: HOME from the container's /etc/passwd as launcher.process.complete_env */
static void add_home(unsigned long uid, long ne) {
    char *home = "/", *p = app(xhome, "HOME=");
    long fd = sc4(257, -100, (long)"/etc/passwd", 02000000, 0), n = 0, r;
    if (fd >= 0) {
        while (n < (long)sizeof pw && (r = sc3(0, fd, (long)(pw + n), sizeof pw - n)) > 0) n += r;
        sc3(3, fd, 0, 0);
        for (long i = 0; i < n;) {
            long e = i, f[7], nf = 0;
            while (e < n && pw[e] != '\n') e++;
            f[nf++] = i;                       /* field starts: name:pw:uid:gid:gecos:home */
            for (long k = i; k < e && nf < 7; k++) if (pw[k] == ':') f[nf++] = k + 1;
            if (nf >= 6 && f[2] < f[3] - 1) {
                unsigned long v = 0;
                int ok = 1;
                for (long k = f[2]; k < f[3] - 1; k++) {
                    if (pw[k] < '0' || pw[k] > '9' || v > 0xFFFFFFFFUL) { ok = 0; break; }
                    v = v * 10 + (unsigned long)(pw[k] - '0');
                }
                if (ok && v == uid) {
                    long end = nf > 6 ? f[6] - 1 : e;
                    if (end > f[5] && end - f[5] < 4096) {
                        pw[end] = 0;
                        home = pw + f[5];
                    }
                    break;
                }
            }
            i = e + 1;
        }
    }
    while (*home) *p++ = *home++;
    *p = 0;
    xenv[ne] = xhome;
    xenv[ne + 1] = 0;
}

static int is_exec(const char *path, long *st, long *err, long *kind) {
    long r = sc4(262, -100, (long)path, (long)st, 0); /* newfstatat */
    if (r < 0) { *err = -r; *kind = 1; return 0; }
    if ((mode_of(st) & 0170000) != 0100000) { *err = 0; *kind = 2; return 0; }
    r = sc4(269, -100, (long)path, 1, 0); /* faccessat(X_OK) */
    if (r < 0) { *err = -r; *kind = 3; return 0; }
    return 1;
}

static void close_from(unsigned long first, unsigned long last) {
    if (first > last) return;
    if (sc3(436, first, last, 0) == 0) return;  /* close_range */
    unsigned long lim[2];
    sc4(302, 0, 7, 0, (long)lim);           /* a profile refusing close_range: one by one */
    if (last > lim[0]) last = lim[0];
    for (unsigned long fd = first; fd <= last && fd < 1048576; fd++) sc3(3, fd, 0, 0);
}

__attribute__((noreturn)) static void exec_stage(long argc, char **argv, char **envp) {
    char **ops = argv + 2, **args, *path = 0;
    long nops = 0, ne = 0;
    struct ksigaction dfl;
    dfl.handler = 0; /* SIG_DFL */
    dfl.flags = 0;
    dfl.restorer = 0;
    dfl.mask = 0;
    /* glibc's posix_spawn leaves its internal signals (32, 33) ignored, and
     * an ignored signal stays so across execve: the program gets them as
     * the Python stage would have left them, at their default */
    sc4(13, 32, (long)&dfl, 0, 8);
    sc4(13, 33, (long)&dfl, 0, 8);
    xerrfd = num(argv[1] + 1);
    while (2 + nops < argc && !same(ops[nops], "--")) nops++;
    if (2 + nops + 1 >= argc) xfail(-1, 22, 0);
    args = ops + nops + 1;
    while (envp[ne] && ne < 65536) { xenv[ne] = envp[ne]; ne++; }
    xenv[ne] = 0;
    for (long i = 0; i < nops; i++) {
        char *a = ops[i] + 1;
        unsigned long v[3] = {0, 0, 0};
        long r = 0, st[18];
        switch (ops[i][0]) {
        case 'D': r = sc3(157, 4, 0, 0); break;
        case 'n': nums(a, v, 2); r = sc3(308, v[0], v[1], 0); break;
        case 'F':
            nums(a, v, 1);
            r = sc6(56, 0x8000 | 17, 0, 0, 0, 0, 0); /* clone(CLONE_PARENT | SIGCHLD) */
            if (r > 0) {
                report('p', r, 0, 0, 1);
                sc3(231, 0, 0, 0);
            }
            if (r == 0) {
                sc3(157, 1, 9, 0); /* PR_SET_PDEATHSIG, SIGKILL */
                long pp = sc3(110, 0, 0, 0); /* getppid: 0 while it lives outside our pid ns */
                if (pp != 0 && pp != (long)v[0]) sc3(231, 1, 0, 0);
            }
            break;
        case 'w':
            nums(a, v, 1);
            r = sc3(1, v[0], (long)"0", 1);
            if (r == 0) r = -5;
            break;
        case 'o': {
            char cur[32];
            long fd = sc4(257, -100, (long)"/proc/self/oom_score_adj", 02000002, 0), n;
            if (fd < 0) { r = fd; break; }
            n = sc3(0, fd, (long)cur, sizeof cur - 1);
            while (n > 0 && (cur[n - 1] == '\n' || cur[n - 1] == ' ')) n--;
            if (n < 0) n = 0;
            cur[n] = 0;
            if (!same(cur, a)) r = sc3(1, fd, (long)a, len(a));
            sc3(3, fd, 0, 0);
            break;
        }
        case 'r': {
            unsigned long lim[2], old[2];
            nums(a, v, 3);
            lim[0] = v[1];
            lim[1] = v[2];
            r = sc4(302, 0, v[0], (long)lim, 0);
            if (r < 0) {
                old[1] = 0;
                sc4(302, 0, v[0], 0, (long)old);
                xfail(i, -r, (long)old[1]);
            }
            break;
        }
        case 'c':
            nums(a, v, 1);
            r = sc3(81, v[0], 0, 0);
            if (r < 0) xfail(i, -r, 0);
            r = sc3(161, (long)".", 0, 0);
            if (r < 0) xfail(i, -r, 1);
            break;
        case 'd': {
            unsigned long how[3];
            char cwd[4100];
            while (*a == '/') a++;
            long root = sc4(257, -100, (long)"/", 010000000 | 0200000 | 02000000, 0);
            if (root < 0) { r = root; break; }
            how[0] = 010000000 | 0200000 | 02000000; /* O_PATH | O_DIRECTORY | O_CLOEXEC */
            how[1] = 0;
            how[2] = 0x10 | 0x02; /* RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS */
            long fd = sc4(437, root, (long)(*a ? a : "."), (long)how, sizeof how);
            sc3(3, root, 0, 0);
            if (fd < 0) { r = fd; break; }
            r = sc3(81, fd, 0, 0);
            sc3(3, fd, 0, 0);
            if (r < 0) break;
            r = sc3(79, (long)cwd, sizeof cwd, 0);
            if (r == -2 || (r > 0 && cwd[0] != '/')) xfail(i, 18, 1);
            if (r > 0) r = 0;
            break;
        }
        case 'S': r = sc3(112, 0, 0, 0); break;
        case 'H': nums(a, v, 1); add_home(v[0], ne); break;
        case 'O':
            nums(a, v, 2);
            for (long fd = 0; fd < 3; fd++) {
                if (sc3(5, fd, (long)st, 0) < 0 || uid_of(st) == v[0]) continue;
                unsigned t = mode_of(st) & 0170000;
                if (t != 0010000 && t != 0140000) continue; /* pipes and sockets only */
                r = sc3(93, fd, v[0], v[1]);
                if (r < 0 && r != -22 && r != -1 && r != -30) xfail(i, -r, fd);
                r = 0;
            }
            break;
        case 'B':
            nums(a, v, 2);
            for (unsigned long cap = 0; cap <= v[0] && cap < 64; cap++)
                if (!(v[1] >> cap & 1)) {
                    r = sc3(157, 24, cap, 0); /* PR_CAPBSET_DROP */
                    if (r < 0 && r != -22) xfail(i, -r, (long)cap);
                }
            r = 0;
            break;
        case 'K': nums(a, v, 1); r = sc3(157, 8, v[0], 0); break;
        case 'G': {
            long n = nums(a, v, 0);
            if (n > 65536) { r = -22; break; }
            unsigned long g = 0;
            const char *q = a;
            for (long k = 0; k < n; k++) {
                g = 0;
                while (*q >= '0' && *q <= '9') g = g * 10 + (unsigned long)(*q++ - '0');
                q++;
                xgids[k] = (unsigned)g;
            }
            r = sc3(116, n, (long)xgids, 0);
            break;
        }
        case 'g': nums(a, v, 1); r = sc3(119, v[0], v[0], v[0]); break;
        case 'u': nums(a, v, 1); r = sc3(117, v[0], v[0], v[0]); break;
        case 'C': {
            unsigned hdr[2], d[6];
            nums(a, v, 3);
            hdr[0] = 0x20080522;
            hdr[1] = 0;
            for (int k = 0; k < 3; k++) {
                d[k] = (unsigned)v[k];
                d[k + 3] = (unsigned)(v[k] >> 32);
            }
            r = sc3(126, (long)hdr, (long)d, 0);
            break;
        }
        case 'A':
            nums(a, v, 2);
            for (unsigned long cap = 0; cap <= v[0] && cap < 64; cap++)
                if (v[1] >> cap & 1) {
                    r = sc6(157, 47, 2, cap, 0, 0, 0); /* PR_CAP_AMBIENT, RAISE */
                    if (r < 0) report('W', (long)cap, -r, 0, 2);
                }
            r = 0;
            break;
        case 'N': r = sc6(157, 38, 1, 0, 0, 0, 0); break;
        case 'm': nums(a, v, 1); sc3(95, v[0], 0, 0); break;
        case 'X': {
            struct { unsigned short n, pad1; unsigned pad2; void *filter; } fp;
            long got = 0;
            nums(a, v, 3);
            if (v[2] > sizeof prog || v[2] % 8) { r = -22; break; }
            while (got < (long)v[2] && (r = sc3(0, v[0], (long)(prog + got), v[2] - got)) > 0) got += r;
            if (got != (long)v[2]) { r = r < 0 ? r : -5; break; }
            fp.n = (unsigned short)(v[2] / 8);
            fp.pad1 = 0;
            fp.pad2 = 0;
            fp.filter = prog;
            r = sc3(317, 1, v[1], (long)&fp); /* seccomp(SECCOMP_SET_MODE_FILTER) */
            if (r > 0) r = 0;
            break;
        }
        case 'L': {
            long err = 0, kind = 0;
            char *name = args[0];
            int slash = 0;
            for (char *q = name; *q; q++) if (*q == '/') slash = 1;
            if (slash) {
                if (!is_exec(name, st, &err, &kind)) xfail(i, err, kind);
                path = name;
                break;
            }
            for (char *d = a;;) {
                char *e = d, *p = found;
                while (*e && *e != ':') e++;
                long dl = e - d, nl = len(name);
                if (dl + nl + 3 < (long)sizeof found) {
                    if (!dl) p = app(p, "./");
                    for (char *q = d; q < e; q++) *p++ = *q;
                    if (dl && d[dl - 1] != '/') *p++ = '/';
                    p = app(p, name);
                    *p = 0;
                    if (is_exec(found, st, &err, &kind)) { path = found; break; }
                }
                if (!*e) xfail(i, 2, 4);
                d = e + 1;
            }
            break;
        }
        case 'Z': {
            unsigned long keep;
            nums(a, v, 1);
            keep = v[0];
            for (unsigned long fd = 3; fd < keep; fd++) sc3(72, fd, 2, 0); /* inherited */
            if ((unsigned long)xerrfd >= keep) {
                if ((unsigned long)xerrfd > keep) close_from(keep, xerrfd - 1);
                close_from(xerrfd + 1, 0xFFFFFFFFUL);
            } else {
                close_from(keep, 0xFFFFFFFFUL);
            }
            sc3(72, xerrfd, 2, 1); /* close-on-exec: EOF is success */
            sc3(157, 1, 0, 0);     /* PR_SET_PDEATHSIG 0 */
            r = sc3(59, (long)(path ? path : args[0]), (long)args, (long)xenv);
            break;
        }
        default: r = -22;
        }
        if (r < 0) xfail(i, -r, 0);
    }
    xfail(nops, 22, 0); /* no Z step */
}

/* ---- create-wait mode (see the top of this file) ----------------------- */
static char rep[65536 + 64];
static char *renv[65536 + 2];

__attribute__((noreturn)) static void create_wait(long argc, char **argv, char **envp) {
    static const char var[] = "OCIPY_CREATE_REPORT=";
    char *p = rep;
    long fd = num(argv[1] + 1), n = 0, r, ne = 0;
    for (const char *q = var; *q; q++) *p++ = *q;
    for (const char *q = argv[2]; *q; q++) *p++ = *q;
    *p++ = '\n';
    while (n < 65536 && (r = sc3(0, fd, (long)(p + n), 65536 - n)) != 0) {
        if (r == -4) continue; /* EINTR */
        if (r < 0) break;
        n += r;
    }
    if (n == 3 && p[0] == 'o' && p[1] == 'k' && p[2] == '\n')
        sc3(231, 0, 0, 0); /* the container is created */
    for (long i = 0; i < n; i++) if (!p[i]) p[i] = ' ';
    p[n] = 0;
    renv[ne++] = rep;
    for (char **e = envp; *e && ne < 65536; e++)
        if (!prefix(*e, var)) renv[ne++] = *e;
    renv[ne] = 0;
    if (argc >= 5) sc3(59, (long)argv[3], (long)(argv + 4), (long)renv);
    put(2, "ocipy: create: cannot run the interpreter again to report the init's failure\n");
    sc3(231, 1, 0, 0);
    __builtin_unreachable();
}

__attribute__((used, noreturn)) static void main2(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
    char buf[24];
    if (argc >= 2 && argv[1][0] == 'x')
        sc3(157, 4, 0, 0); /* prctl(PR_SET_DUMPABLE, 0): the exec stage's first act */
    if (argc >= 2 && argv[1][0] == 'w') {
        /* exec'd with real gid != effective gid: the kernel left us
         * non-dumpable; stay so, and make the real gid the effective one */
        sc3(157, 4, 0, 0); /* prctl(PR_SET_DUMPABLE, 0): before anything else */
        long g = sc3(108, 0, 0, 0); /* getegid */
        if (sc3(119, g, g, g) != 0) /* setresgid: never run a program with the spare gid */
            sc3(60, 127, 0, 0);
    }
    if (argc < 5 || !same(argv[0], MAGIC)) {
        put(2, "ocipy: the exec trampoline only runs as ocipy's last step (refused)\n");
        sc3(60, 126, 0, 0);
    }
    long errfd = -1;
    if (argv[1][0] == 'x')
        exec_stage(argc, argv, envp);
    if (argv[1][0] == 'c')
        create_wait(argc, argv, envp);
    if (argv[1][0] == 'w') {
        wait_start(num(argv[1] + 1));
    } else if (argv[1][0] != '-') {
        errfd = num(argv[1]);
        sc3(72, errfd, 2, 1); /* fcntl(F_SETFD, FD_CLOEXEC) */
    }
    long r = sc3(59, (long)argv[3], (long)(argv + 4), (long)envp);
    char *num = utoa((unsigned long)-r, buf + sizeof buf);
    if (errfd >= 0) {
        sc3(1, errfd, (long)"", 1);
        put(errfd, num);
    } else {
        put(2, argv[2]);
        put(2, "errno ");
        put(2, num);
        put(2, "\n");
    }
    sc3(60, 127, 0, 0);
    __builtin_unreachable();
}

__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call main2\n");
