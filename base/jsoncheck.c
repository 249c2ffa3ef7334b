/* jsoncheck.c - see jsoncheck.h. */
#include "base/jsoncheck.h"

#include <string.h>

#include "base/text.h"

int json_check_fields(const json_t *obj, const char *const *allowed, const char *where,
                      strata_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char ex[80];
            text_excerpt(slice_of(key), ex, sizeof ex);
            return err_set(err, STRATA_INVALID_ARGUMENT, "unknown field \"%s%s\"", where, ex);
        }
    }
    return 0;
}
