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
 * again) it refuses with exit 126. */
#define MAGIC "\001ocipy-exec"

static long sc3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
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

__attribute__((used, noreturn)) static void main2(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
    char buf[24];
    if (argc < 5 || !same(argv[0], MAGIC)) {
        put(2, "ocipy: the exec trampoline only runs as ocipy's last step (refused)\n");
        sc3(60, 126, 0, 0);
    }
    long errfd = -1;
    if (argv[1][0] != '-') {
        errfd = 0;
        for (const char *c = argv[1]; *c >= '0' && *c <= '9'; c++) errfd = errfd * 10 + (*c - '0');
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
