#include "ckubeletcert.h"
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t len, const char *what) {
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, len, "%s%s%s", what, buf[0] ? ": " : "", buf);
    ERR_clear_error();
    return -1;
}

int kubelet_selfsigned(const char *cn, const char *san, int days,
                       const char *cert_path, const char *key_path, char *err, size_t errlen) {
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *kctx = NULL;
    X509 *x = NULL;
    X509_EXTENSION *ext = NULL;
    FILE *f = NULL;

    kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (!kctx || EVP_PKEY_keygen_init(kctx) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(kctx, &pkey) <= 0) { fail(err, errlen, "key generation failed"); goto out; }

    x = X509_new();
    if (!x) { fail(err, errlen, "X509_new failed"); goto out; }
    X509_set_version(x, 2);
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) { fail(err, errlen, "no random serial"); goto out; }
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) { BN_free(bn); fail(err, errlen, "serial failed"); goto out; }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
        fail(err, errlen, "bad common name"); goto out;
    }
    X509_set_issuer_name(x, name);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    if (!ext || !X509_add_ext(x, ext, -1)) { fail(err, errlen, "bad subjectAltName"); goto out; }
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "serverAuth");
    if (!ext || !X509_add_ext(x, ext, -1)) { fail(err, errlen, "extendedKeyUsage failed"); goto out; }
    if (X509_sign(x, pkey, EVP_sha256()) <= 0) { fail(err, errlen, "signing failed"); goto out; }

    int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) { if (fd >= 0) close(fd); snprintf(err, errlen, "cannot write %s", key_path); goto out; }
    if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) { fail(err, errlen, "writing the key failed"); goto out; }
    fclose(f); f = NULL;
    fd = open(cert_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(f = fdopen(fd, "w"))) { if (fd >= 0) close(fd); snprintf(err, errlen, "cannot write %s", cert_path); goto out; }
    if (!PEM_write_X509(f, x)) { fail(err, errlen, "writing the certificate failed"); goto out; }
    rc = 0;
out:
    if (f) fclose(f);
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(kctx);
    return rc;
}
