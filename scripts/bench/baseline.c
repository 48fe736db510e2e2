#define _GNU_SOURCE
// The same-run baseline for `make bench`: a minimal HTTP/1.1 keep-alive server
// in C that answers every request with the same fixed bytes (a response our
// server gave, read from a file), plain or over TLS (OpenSSL, the same library
// and settings as ours). One thread per connection, blocking I/O, no parsing
// beyond finding the end of the head and skipping Content-Length body bytes:
// the cost of the socket, TLS and thread work alone, with no HTTP server logic.
//
// Build: cc -O2 -o baseline baseline.c -lpthread -lssl -lcrypto
// Usage: baseline PORT RESPONSE_FILE [CERT KEY]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char *response;
static size_t response_len;
static SSL_CTX *ctx;

typedef struct { int fd; SSL *ssl; } conn_t;

static ssize_t conn_read(conn_t *c, char *buf, size_t n) {
    return c->ssl ? SSL_read(c->ssl, buf, (int)n) : read(c->fd, buf, n);
}

static int conn_write(conn_t *c, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, buf, (int)n) : write(c->fd, buf, n);
        if (w <= 0) return -1;
        buf += w; n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg) {
    conn_t c = { (int)(long)arg, NULL };
    if (ctx) {
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, c.fd);
        if (SSL_accept(c.ssl) != 1) goto done;
    }
    char buf[65536];
    size_t have = 0;
    for (;;) {
        ssize_t n = conn_read(&c, buf + have, sizeof buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        for (;;) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (!end) break;
            size_t head = (size_t)(end - buf) + 4, body = 0;
            for (char *p = buf; p < end; p++) {
                if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) body = strtoul(p + 15, NULL, 10);
            }
            if (have < head + body) break;
            if (conn_write(&c, response, response_len) != 0) goto done;
            memmove(buf, buf + head + body, have - head - body);
            have -= head + body;
        }
        if (have == sizeof buf) break;
    }
done:
    if (c.ssl) SSL_free(c.ssl);
    close(c.fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) { fprintf(stderr, "usage: %s PORT RESPONSE_FILE [CERT KEY]\n", argv[0]); return 2; }
    signal(SIGPIPE, SIG_IGN);
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END); response_len = (size_t)ftell(f); fseek(f, 0, SEEK_SET);
    response = malloc(response_len);
    if (fread(response, 1, response_len, f) != response_len) { perror("read"); return 1; }
    fclose(f);
    if (argc == 5) {
        ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        if (SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 || SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "cannot load %s / %s\n", argv[3], argv[4]); return 1;
        }
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 511) != 0) { perror("listen"); return 1; }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) { usleep(1000); continue; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) close(fd);
    }
}
