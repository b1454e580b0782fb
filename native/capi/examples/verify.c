/* Verifies tokens with libturbojwt: `verify KEY_FILE POLICY_JSON AT < tokens`, one token per
 * line; prints one line per token: "OK <sub> <claims JSON>" or "<PyJWT class>: <message>".
 * KEY_FILE holds key material (PEM, DER, OpenSSH line or HMAC secret); AT is the time the
 * tokens are judged at (seconds since the epoch; "now" for the current time). Built against
 * the shared and the static library by tests/capi/test_c_example.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "turbojwt.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) { free(buf); fclose(f); return NULL; }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s KEY_FILE POLICY_JSON AT < tokens\n", argv[0]);
        return 2;
    }
    if (tj_abi_version() != TJ_ABI_VERSION) {
        fprintf(stderr, "libturbojwt %s implements ABI %u, not %d\n", tj_version(), tj_abi_version(), TJ_ABI_VERSION);
        return 2;
    }
    size_t key_len = 0;
    unsigned char *key = read_file(argv[1], &key_len);
    if (!key) { perror(argv[1]); return 2; }
    TjError *err = NULL;
    TjVerifier *v = tj_verifier_new(TJ_KEY_MATERIAL, key, key_len, (const uint8_t *)argv[2], strlen(argv[2]), 64, &err);
    free(key);
    if (!v) {
        printf("%s: %s\n", tj_code_name(tj_error_code(err)), tj_error_message(err, NULL));
        tj_error_free(err);
        return 1;
    }
    double at = strcmp(argv[3], "now") == 0 ? NAN : strtod(argv[3], NULL);
    TjResult *r = tj_result_new();
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\r\n");
        TjCode code = tj_verify(v, (const uint8_t *)line, n, at, r);
        if (code == TJ_OK) {
            size_t sub_len = 0, claims_len = 0;
            const uint8_t *sub = tj_result_claim(r, TJ_CLAIM_SUB, &sub_len);
            const uint8_t *claims = tj_result_claims(r, &claims_len);
            printf("OK %.*s %.*s\n", (int)sub_len, sub ? (const char *)sub : "", (int)claims_len, (const char *)claims);
        } else {
            printf("%s: %s\n", tj_code_name(code), tj_result_message(r, NULL));
        }
    }
    tj_result_free(r);
    tj_verifier_free(v);
    return 0;
}
