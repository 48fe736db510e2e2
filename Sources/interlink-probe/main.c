// interlink-probe: the httpGet / tcpSocket handler of the Docker provider's
// probes and hooks, run *inside* a container by `docker exec` (so it reaches
// ports only the container's network namespace can see). Linked statically so
// it needs nothing from the image: no shell, no libc, no wget.
//
//   interlink-probe http HOST PORT PATH TIMEOUT_SECONDS ["Name: value"]...
//       exit 0 when the status is 200..399 (kubelet's rule), else 1
//   interlink-probe tcp HOST PORT TIMEOUT_SECONDS
//       exit 0 when a TCP connection opens, else 1
// A reason goes to stdout (the provider shows it in the probe's failure).
// Arguments are never interpreted by a shell; CR/LF in PATH or headers is
// refused (it would split the request), and checked before by the provider.
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static long long deadline_ms;

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int left_ms(void) {
    long long l = deadline_ms - now_ms();
    return l < 0 ? 0 : (int)l;
}

static int has_ctl(const char *s) {
    for (; *s; s++) if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

// Connects within the deadline; -1 with a message on stdout otherwise.
static int dial(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) { printf("cannot resolve %s: %s\n", host, gai_strerror(rc)); return -1; }
    int fd = -1, last = 0;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { last = errno; continue; }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            struct pollfd p = { fd, POLLOUT, 0 };
            if (poll(&p, 1, left_ms()) == 1) {
                int err = 0; socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0) break;
                last = err;
            } else {
                last = ETIMEDOUT;
            }
        } else {
            last = errno;
        }
        close(fd); fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) printf("dial tcp %s:%s: %s\n", host, port, strerror(last));
    return fd;
}

static int send_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        struct pollfd p = { fd, POLLOUT, 0 };
        if (poll(&p, 1, left_ms()) != 1) return -1;
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue; return -1; }
        buf += w; n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { printf("usage: interlink-probe http|tcp ...\n"); return 2; }
    int is_http = strcmp(argv[1], "http") == 0, is_tcp = strcmp(argv[1], "tcp") == 0;
    if ((is_http && argc < 6) || (is_tcp && argc != 5) || (!is_http && !is_tcp)) {
        printf("usage: interlink-probe http HOST PORT PATH TIMEOUT [HEADER]... | tcp HOST PORT TIMEOUT\n");
        return 2;
    }
    const char *host = argv[2], *port = argv[3];
    int timeout = atoi(is_http ? argv[5] : argv[4]);
    if (timeout <= 0) timeout = 1;
    deadline_ms = now_ms() + (long long)timeout * 1000;

    int fd = dial(host, port);
    if (fd < 0) return 1;
    if (is_tcp) { close(fd); return 0; }

    const char *path = argv[4];
    if (has_ctl(path) || has_ctl(host)) { printf("path or host holds a control character\n"); return 2; }
    // The request kubelet sends (its User-Agent and Accept), Connection: close.
    size_t cap = 1024 + strlen(path) + strlen(host);
    for (int i = 6; i < argc; i++) cap += strlen(argv[i]) + 2;
    char *req = malloc(cap);
    if (!req) return 1;
    int n = snprintf(req, cap, "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kube-probe/1.30\r\nAccept: */*\r\nConnection: close\r\n",
                     path[0] == '/' ? "" : "/", path, host, port);
    for (int i = 6; i < argc; i++) {
        if (has_ctl(argv[i])) { printf("a header holds a control character\n"); return 2; }
        n += snprintf(req + n, cap - (size_t)n, "%s\r\n", argv[i]);
    }
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (send_all(fd, req, (size_t)n) < 0) { printf("sending the request failed or timed out\n"); return 1; }

    // Only the status line matters.
    char buf[512];
    size_t got = 0;
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, left_ms()) != 1) { printf("timed out waiting for the response\n"); return 1; }
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0) { if (errno == EAGAIN || errno == EINTR) continue; printf("reading the response: %s\n", strerror(errno)); return 1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    close(fd);
    int code = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1 && sscanf(buf, "HTTP/%*d %d", &code) != 1) {
        printf("not an HTTP response\n");
        return 1;
    }
    if (code >= 200 && code < 400) return 0;
    printf("HTTP probe failed with statuscode: %d\n", code);
    return 1;
}
