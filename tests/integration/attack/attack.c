/* The attacker that tests/integration/test_hardening.py runs inside a
 * container (built there with `gcc -static`). It never writes to anything it
 * reaches: a write attack is proved by a successful open(O_WRONLY/O_RDWR),
 * closed at once, never by a write. Every finding is one line in a log the
 * test reads from the host:
 *
 *   attack scan SECONDS LOG   loop over /proc/[0-9]* of every other process:
 *       exe, cwd, root, fd/*, map_files/*: open O_WRONLY, O_RDWR, O_PATH (then
 *       reopen that fd through /proc/self/fd O_WRONLY/O_RDWR), '..' of
 *       directories; ptrace (PTRACE_SEIZE). Lines (each unique one once):
 *         OPEN <how> <pid> <comm> <link> <type> <dev> <ino> <readlink>
 *         TRACE <pid> <comm> <exe dev> <exe ino>
 *         SEEN <comm>   (once per command name seen)
 *       and at the end: DONE <rounds> <pids seen>
 *   attack fds LOG            the fds, cwd and root of this process:
 *         FD <n> <type> <dev> <ino> <readlink>   (and FDUP for a dir's '..')
 *         CWD <dev> <ino> <getcwd or errno>      ROOT <dev> <ino>
 *   attack reopen FD LOG [MS] REOPEN <how> ok|<errno> for /proc/self/fd/FD
 *       (with MS: from a child, retrying up to MS ms while ETXTBSY)
 *   attack canwrite PATH...   prints "PATH ok" or "PATH <errno name>" for an
 *       open(O_WRONLY) that is closed unwritten ("null": it opened the null
 *       device, i.e. a masked path)
 *   attack canread PATH...    the same for open(O_RDONLY) + read(1 byte)
 *       ("empty": read 0 bytes)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
#define NSEEN 16384
static uint64_t seen[NSEEN];

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1;
}

/* log a line once */
static void once(const char *line) {
    uint64_t h = hash(line);
    size_t i = h % NSEEN;
    for (size_t n = 0; n < NSEEN; n++, i = (i + 1) % NSEEN) {
        if (seen[i] == h) return;
        if (!seen[i]) { seen[i] = h; fputs(line, out); fputc('\n', out); fflush(out); return; }
    }
}

static const char *ftype(mode_t m) {
    if (S_ISREG(m)) return "reg";
    if (S_ISDIR(m)) return "dir";
    if (S_ISCHR(m)) return "chr";
    if (S_ISBLK(m)) return "blk";
    if (S_ISFIFO(m)) return "fifo";
    if (S_ISSOCK(m)) return "sock";
    if (S_ISLNK(m)) return "lnk";
    return "other";
}

static void comm_of(const char *pid, char *buf, size_t n) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%s/comm", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, buf, n - 1) : -1;
    if (fd >= 0) close(fd);
    if (r <= 0) { snprintf(buf, n, "?"); return; }
    buf[r] = 0;
    if (r > 0 && buf[r - 1] == '\n') buf[r - 1] = 0;
    for (char *c = buf; *c; c++) if (*c == ' ') *c = '_';
}

static void report_open(const char *how, const char *pid, const char *comm, const char *link, int fd) {
    struct stat st;
    char target[PATH_MAX] = "?", line[PATH_MAX * 2];
    ssize_t r = readlink(link, target, sizeof target - 1);
    if (r >= 0) target[r] = 0;
    for (char *c = target; *c; c++) if (*c == ' ' || *c == '\n') *c = '_';
    if (fstat(fd, &st) != 0) memset(&st, 0, sizeof st);
    snprintf(line, sizeof line, "OPEN %s %s %s %s %s %lu %lu %s", how, pid, comm, link, ftype(st.st_mode),
             (unsigned long)st.st_dev, (unsigned long)st.st_ino, target);
    once(line);
}

static void try_link(const char *pid, const char *comm, const char *link) {
    static const struct { int flags; const char *how; } modes[] = {
        {O_WRONLY, "wronly"}, {O_RDWR, "rdwr"},
    };
    for (size_t i = 0; i < 2; i++) {
        int fd = open(link, modes[i].flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) { report_open(modes[i].how, pid, comm, link, fd); close(fd); }
    }
    int p = open(link, O_PATH | O_CLOEXEC);
    if (p < 0) return;
    report_open("path", pid, comm, link, p);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", p);
    for (size_t i = 0; i < 2; i++) {
        int fd = open(self, modes[i].flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            char how[32];
            snprintf(how, sizeof how, "reopen-%s", modes[i].how);
            report_open(how, pid, comm, link, fd);
            close(fd);
        }
    }
    struct stat st;
    if (fstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
        int up = openat(p, "..", O_PATH | O_CLOEXEC);
        if (up >= 0) { report_open("dotdot", pid, comm, link, up); close(up); }
    }
    close(p);
}

static void try_dir(const char *pid, const char *comm, const char *sub) {
    char d[PATH_MAX];
    snprintf(d, sizeof d, "/proc/%s/%s", pid, sub);
    DIR *dir = opendir(d);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char link[PATH_MAX];
        snprintf(link, sizeof link, "%s/%s", d, e->d_name);
        try_link(pid, comm, link);
    }
    closedir(dir);
}

static void try_trace(pid_t pid, const char *comm) {
    /* PTRACE_SEIZE: the same permission check as PTRACE_ATTACH, but no
     * SIGSTOP and no post-exec SIGTRAP injected. An ATTACH that lands while
     * the process execs leaves one of them pending after the detach, and the
     * container's own process stopped for good (a self-inflicted hang, not
     * what is tested here). Stopped with INTERRUPT, detached with any
     * signal it was about to take given back. */
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0) return;
    /* what was attached: its exe, read at once (0 0: it is already gone) */
    char exe[64], line[256];
    struct stat st;
    snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
    if (stat(exe, &st) != 0) memset(&st, 0, sizeof st);
    snprintf(line, sizeof line, "TRACE %d %s %lu %lu", pid, comm, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    once(line);
    ptrace(PTRACE_INTERRUPT, pid, 0, 0);
    int status, sig = 0;
    if (waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status) && (status >> 16) == 0 &&
        WSTOPSIG(status) != SIGTRAP)
        sig = WSTOPSIG(status); /* a signal-delivery-stop: the signal goes on */
    ptrace(PTRACE_DETACH, pid, 0, sig);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int scan(double secs) {
    pid_t me = getpid(), parent = getppid();
    double end = now() + secs;
    long rounds = 0, pids = 0;
    static char traced[1 << 16];
    while (now() < end) {
        DIR *proc = opendir("/proc");
        if (!proc) { perror("/proc"); return 1; }
        struct dirent *e;
        while ((e = readdir(proc))) {
            char *endp;
            long pid = strtol(e->d_name, &endp, 10);
            if (*endp || pid <= 0 || pid == me) continue;
            pids++;
            char comm[64], link[PATH_MAX];
            comm_of(e->d_name, comm, sizeof comm);
            char seenl[96];
            snprintf(seenl, sizeof seenl, "SEEN %s", comm);
            once(seenl);
            static const char *const links[] = {"exe", "cwd", "root"};
            for (size_t i = 0; i < 3; i++) {
                snprintf(link, sizeof link, "/proc/%s/%s", e->d_name, links[i]);
                try_link(e->d_name, comm, link);
            }
            try_dir(e->d_name, comm, "fd");
            try_dir(e->d_name, comm, "map_files");
            /* ptrace each process once (not our parent shell: it waits for us) */
            if (pid != parent && pid < (long)sizeof traced && !traced[pid]) {
                traced[pid] = 1;
                try_trace((pid_t)pid, comm);
            }
        }
        closedir(proc);
        rounds++;
    }
    fprintf(out, "DONE %ld %ld\n", rounds, pids);
    return 0;
}

static int fds(void) {
    char link[64], target[PATH_MAX], line[PATH_MAX * 2];
    struct stat st;
    for (int n = 0; n <= 1024; n++) {
        if (fstat(n, &st) != 0) continue;
        if (out && n == fileno(out)) continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", n);
        ssize_t r = readlink(link, target, sizeof target - 1);
        target[r >= 0 ? r : 0] = 0;
        fprintf(out, "FD %d %s %lu %lu %s\n", n, ftype(st.st_mode), (unsigned long)st.st_dev,
                (unsigned long)st.st_ino, target);
        if (S_ISDIR(st.st_mode)) {
            int up = openat(n, "..", O_PATH | O_CLOEXEC);
            if (up >= 0 && fstat(up, &st) == 0)
                fprintf(out, "FDUP %d %lu %lu\n", n, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
            if (up >= 0) close(up);
            snprintf(line, sizeof line, "/proc/self/fd/%d/../../..", n);
            if (stat(line, &st) == 0)
                fprintf(out, "FDWALK %d %lu %lu\n", n, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
        }
    }
    if (stat(".", &st) == 0) {
        char *cwd = getcwd(target, sizeof target);
        fprintf(out, "CWD %lu %lu %s\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino,
                cwd ? cwd : strerrorname_np(errno));
    } else {
        fprintf(out, "CWD - - %s\n", strerrorname_np(errno));
    }
    if (stat("../../../../..", &st) == 0)
        fprintf(out, "CWDUP %lu %lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    if (stat("/", &st) == 0)
        fprintf(out, "ROOT %lu %lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    return 0;
}

/* with WAIT_MS, in a child of its own (so the runtime's exec, waiting for
 * us, ends and the binary is no longer being executed): retry while the
 * binary is busy (ETXTBSY), up to WAIT_MS */
static int reopen(int fd, int wait_ms) {
    struct stat st;
    if (wait_ms > 0 && fork() != 0) return 0;
    struct statvfs vfs;
    if (fstat(fd, &st) == 0)
        fprintf(out, "HELD %d %s %lu %lu %s\n", fd, ftype(st.st_mode), (unsigned long)st.st_dev,
                (unsigned long)st.st_ino, fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY) ? "ro-mount" : "rw-mount");
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    static const struct { int flags; const char *how; } modes[] = {{O_WRONLY, "wronly"}, {O_RDWR, "rdwr"}};
    for (size_t i = 0; i < 2; i++) {
        int w = open(self, modes[i].flags | O_NONBLOCK | O_CLOEXEC);
        for (int t = 0; w < 0 && errno == ETXTBSY && t < wait_ms; t += 10) {
            usleep(10000);
            w = open(self, modes[i].flags | O_NONBLOCK | O_CLOEXEC);
        }
        fprintf(out, "REOPEN %s %s\n", modes[i].how, w >= 0 ? "ok" : strerrorname_np(errno));
        if (w >= 0) close(w); /* never written */
    }
    return 0;
}

static int probe(int argc, char **argv, int flags) {
    for (int i = 2; i < argc; i++) {
        int fd = open(argv[i], flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        const char *res = "ok";
        struct stat st;
        if (fd < 0) {
            res = strerrorname_np(errno);
        } else if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) {
            res = "null"; /* masked with the null device */
        } else if (flags == O_RDONLY) {
            char c;
            ssize_t r = read(fd, &c, 1);
            res = r < 0 ? strerrorname_np(errno) : r == 0 ? "empty" : "ok";
        }
        printf("%s %s\n", argv[i], res);
        if (fd >= 0) close(fd); /* never written */
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "canwrite")) return probe(argc, argv, O_WRONLY);
    if (argc >= 3 && !strcmp(argv[1], "canread")) return probe(argc, argv, O_RDONLY);
    const char *logp = NULL;
    if (argc >= 4 && !strcmp(argv[1], "scan")) logp = argv[3];
    else if (argc >= 3 && !strcmp(argv[1], "fds")) logp = argv[2];
    else if (argc >= 4 && !strcmp(argv[1], "reopen")) logp = argv[3];
    else { fprintf(stderr, "usage: see attack.c\n"); return 2; }
    out = fopen(logp, "ae");
    if (!out) { perror(logp); return 1; }
    setvbuf(out, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "scan")) return scan(atof(argv[2]));
    if (!strcmp(argv[1], "fds")) return fds();
    return reopen(atoi(argv[2]), argc >= 5 ? atoi(argv[4]) : 0);
}
