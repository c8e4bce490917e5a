/* sdnotify MSG...: send each MSG as one datagram to $NOTIFY_SOCKET (a path,
 * or "@name" for an abstract socket), as sd_notify(3) does. A tiny static
 * binary for busybox containers (tests/integration/test_process_attrs.py).
 * Exit 0 when every send succeeded, 1 otherwise (errno on stderr). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t len;
    int fd, i;

    if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "sdnotify: NOTIFY_SOCKET unset or too long\n");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("sdnotify: socket");
        return 1;
    }
    for (i = 1; i < argc; i++) {
        if (sendto(fd, argv[i], strlen(argv[i]), 0, (struct sockaddr *)&sa, len) < 0) {
            fprintf(stderr, "sdnotify: sendto %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    return 0;
}
