/*
 * client_int.h - declarations shared inside client/ (the library and the CLI),
 * not part of libstrata's public API (client/strata.h).
 */
#ifndef STRATA_CLIENT_CLIENT_INT_H
#define STRATA_CLIENT_CLIENT_INT_H

#include <jansson.h>

#include "base/buf.h"

/*
 * Append j as compact JSON. Unlike json_dumps(), doubles take their shortest
 * round-trip form (0.1, not 0.10000000000000001) via base/jsonw.h, so what the
 * client sends and prints is what the user wrote or the server sent.
 */
void client_json_write(buf *b, const json_t *j);

#endif
