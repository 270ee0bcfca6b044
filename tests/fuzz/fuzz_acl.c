/* libFuzzer: the ACL rule parser (router/acl.c) on arbitrary user lines: a line is taken or refused with a
 * reason, a user it builds decides every command of the table without crashing, and its indexed key
 * patterns decide every key cut from the same input as the plain pattern list does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../router/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct cmdtable *t;
    if (!t) t = cmdtable_new_builtin(NULL, 0);
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = '\0'; /* a NUL inside ends the line, as a C string would */
    char err[512] = "";
    struct acl_user *u = acl_user_parse(t, line, err, sizeof(err));
    if (!u && !err[0]) abort(); /* a refusal says why */
    if (u) {
        struct acl_key k = {line, strlen(line) / 2, KSF_RW | KSF_ACCESS | KSF_UPDATE};
        struct acl_channel ch = {line, strlen(line) / 3, (int)(size & 1)};
        for (size_t i = 0; i < cmdtable_count(t); i++) {
            int pos = -1;
            int rc = acl_check(u, cmdtable_at(t, i), line, strlen(line) / 4, &k, 1, &ch, 1, &pos);
            if (rc != ACL_OK && rc != ACL_DENIED_CMD && rc != ACL_DENIED_KEY && rc != ACL_DENIED_CHANNEL) abort();
            if (pos != 0) abort();
        }
        /* the key patterns' index decides as the plain list does */
        for (size_t cut = 0; cut <= strlen(line) && cut < 64; cut++) {
            for (int need = 0; need <= ACL_PERM_ALL; need++) {
                int fast = acl_key_allowed(u, line + cut, strlen(line + cut) / 2, need);
                u->indexed = 0;
                int slow = acl_key_allowed(u, line + cut, strlen(line + cut) / 2, need);
                u->indexed = 1;
                if (fast != slow) abort();
            }
        }
        acl_user_password_ok(u, line, strlen(line));
        acl_user_free(u);
    }
    free(line);
    return 0;
}
