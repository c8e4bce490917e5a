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
 * The interpreter's memory is gone while the container waits. */
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

__attribute__((used, noreturn)) static void main2(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
    char buf[24];
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
