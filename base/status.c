/* status.c - tables generated from STRATA_STATUS_MAP. */
#include "base/status.h"

#include <stddef.h>

struct status_row {
    int value;
    const char *name;
    const char *api;
    int http;
};

static const struct status_row rows[] = {
#define ROW(name, value, api, http) {value, #name, api, http},
    STRATA_STATUS_MAP(ROW)
#undef ROW
};

static const struct status_row *find(int status)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].value == status)
            return &rows[i];
    return NULL;
}

const char *strata_strerror(int status)
{
    const struct status_row *r = find(status);
    return r ? r->name : "UNKNOWN";
}

const char *strata_status_code(int status)
{
    const struct status_row *r = find(status);
    return r ? r->api : "INTERNAL";
}

int strata_status_http(int status)
{
    const struct status_row *r = find(status);
    return r ? r->http : 500;
}
