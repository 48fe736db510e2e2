#ifndef INTERLINK_CKUBELETCERT_H
#define INTERLINK_CKUBELETCERT_H
#include <stddef.h>
// Makes a self-signed EC P-256 serving certificate (SHA-256, CN = cn,
// subjectAltName = san, e.g. "DNS:node,IP:10.0.0.1", valid `days`) and writes
// it and its key as PEM (key mode 0600). 0 on success; else -1 with a message.
int kubelet_selfsigned(const char *cn, const char *san, int days,
                       const char *cert_path, const char *key_path, char *err, size_t errlen);
#endif
