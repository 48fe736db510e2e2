#ifndef INTERLINK_COPENSSL_SHIM_H
#define INTERLINK_COPENSSL_SHIM_H
// OpenSSL (libssl-dev) for the server's TLS layer. Several OpenSSL calls are
// macros Swift cannot import; these inline functions expose them.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

static inline int copenssl_ctx_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

// Partial writes and a moving buffer: our writer retries with whatever is left.
// Released buffers: an idle keep-alive TLS connection does not keep ~34 KiB of record buffers.
static inline void copenssl_ctx_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

// The newest queued OpenSSL error as text (empty if none); clears the queue.
static inline void copenssl_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    unsigned long next;
    while ((next = ERR_get_error()) != 0) e = next;
    if (e == 0) { if (len) buf[0] = 0; return; }
    ERR_error_string_n(e, buf, len);
}
#endif
