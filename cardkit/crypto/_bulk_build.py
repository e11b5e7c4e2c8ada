"""Build script of :mod:`cardkit.crypto._bulk` (cffi, API mode, against the system's
libcrypto): AES-CMAC of many messages under many keys in one call, for settlement.

The MAC is OpenSSL's own (EVP_MAC "CMAC" over AES-CBC) and the tag comparison its
constant-time ``CRYPTO_memcmp``; the C here is only the loop that Python would otherwise
run once per receipt. Built by ``pip install`` (setup.py's ``cffi_modules``); when it is
not built, :mod:`cardkit.crypto.bulk` computes the same in Python.
"""

from __future__ import annotations

from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    int cardkit_cmac_many(const unsigned char *keys, size_t key_len, const int64_t *which,
                          const unsigned char *messages, size_t message_len, size_t n,
                          unsigned char *out);
    int cardkit_cmac_verify_many(const unsigned char *keys, size_t key_len,
                                 const int64_t *which, const unsigned char *messages,
                                 size_t message_len, const unsigned char *tags,
                                 size_t tag_len, size_t n, unsigned char *ok);
    """
)
ffibuilder.set_source(
    "cardkit.crypto._bulk",
    r"""
#include <stdint.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* A CMAC context for AES keys of key_len bytes, or NULL. */
static EVP_MAC_CTX *cmac_context(size_t key_len)
{
    const char *cipher = key_len == 16 ? "AES-128-CBC"
                       : key_len == 24 ? "AES-192-CBC"
                       : key_len == 32 ? "AES-256-CBC" : NULL;
    if (cipher == NULL)
        return NULL;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    if (mac == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  /* the context holds its own reference */
    if (ctx == NULL)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("cipher", (char *)cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(ctx, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int one(EVP_MAC_CTX *ctx, const unsigned char *key, size_t key_len,
               const unsigned char *message, size_t message_len, unsigned char *tag)
{
    size_t written = 0;
    return EVP_MAC_init(ctx, key, key_len, NULL)
        && EVP_MAC_update(ctx, message, message_len)
        && EVP_MAC_final(ctx, tag, &written, 16)
        && written == 16;
}

/* out[16 i ..] = AES-CMAC(keys[which[i]], messages[i]); 0, or -1 if OpenSSL failed. */
int cardkit_cmac_many(const unsigned char *keys, size_t key_len, const int64_t *which,
                      const unsigned char *messages, size_t message_len, size_t n,
                      unsigned char *out)
{
    EVP_MAC_CTX *ctx = cmac_context(key_len);
    if (ctx == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!one(ctx, keys + key_len * (size_t)which[i], key_len,
                 messages + message_len * i, message_len, out + 16 * i)) {
            EVP_MAC_CTX_free(ctx);
            return -1;
        }
    }
    EVP_MAC_CTX_free(ctx);
    return 0;
}

/* ok[i] = 1 if tags[i] (tag_len bytes) is the truncated AES-CMAC of messages[i] under
   keys[which[i]], compared in constant time; 0, or -1 if OpenSSL failed. */
int cardkit_cmac_verify_many(const unsigned char *keys, size_t key_len,
                             const int64_t *which, const unsigned char *messages,
                             size_t message_len, const unsigned char *tags, size_t tag_len,
                             size_t n, unsigned char *ok)
{
    unsigned char tag[16];
    if (tag_len < 1 || tag_len > 16)
        return -1;
    EVP_MAC_CTX *ctx = cmac_context(key_len);
    if (ctx == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!one(ctx, keys + key_len * (size_t)which[i], key_len,
                 messages + message_len * i, message_len, tag)) {
            EVP_MAC_CTX_free(ctx);
            return -1;
        }
        ok[i] = CRYPTO_memcmp(tag, tags + tag_len * i, tag_len) == 0;
    }
    OPENSSL_cleanse(tag, sizeof tag);
    EVP_MAC_CTX_free(ctx);
    return 0;
}
""",
    libraries=["crypto"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
