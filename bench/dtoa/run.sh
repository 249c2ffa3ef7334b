#!/usr/bin/env bash
# bench/dtoa/run.sh - instruction counts (callgrind) of formatting doubles:
# base/dtoa.c's jsonw_double against the snprintf/strtod one it replaced and
# against one glibc printf("%.17g"), and of a whole GET /v1/entities/{e}/values/{id}
# on a 10-feature row, before and after.
#
# Usage: bench/dtoa/run.sh BUILD_DIR [OLD_BUILD_DIR]
#
#   BUILD_DIR      a build of this tree (base/libstrata_base.a, serving/stratad)
#   OLD_BUILD_DIR  a build of the tree before base/dtoa.c (OLD_REV) for the GET
#                  comparison; without it only BUILD_DIR's GET is counted
#   env N          doubles per format run (default 1000000)
#   env GETS       GET requests counted per daemon (default 300)
#   env OLD_REV    the commit whose base/jsonw.c has the old jsonw_double
#                  (default 8825977, the last one before base/dtoa.c)
#   env PARTS      "format", "get" or both (default "format get")
#
# Instruction counts are deterministic, so unlike the other bench/ scripts this
# one does not need a quiet machine. Callgrind counts instructions, not time:
# it does not see cache misses or branch mispredictions, so read the ratios as
# "work done", not as a speed-up measured in seconds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '7,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
BUILD="$(cd "$1" && pwd)"
OLD_BUILD="${2:+$(cd "$2" && pwd)}"
N="${N:-1000000}"
GETS="${GETS:-300}"
OLD_REV="${OLD_REV:-8825977}"
PARTS="${PARTS:-format get}"
WORK="$(mktemp -d)"
KEEP=0
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
PY=/usr/bin/python3
for t in valgrind callgrind_annotate curl cc git; do
  command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 1; }
done

# Ir inside the toggled function(s) of a callgrind output file.
# (awk reads to the end: an early exit would SIGPIPE callgrind_annotate under pipefail)
totals() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !t {gsub(",", "", $1); t = $1} END {print t + 0}'; }
# Inclusive Ir of one function (0 when it does not appear).
inclusive() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk -v f="$2" '!t && ($0 ~ (":" f " ") || $0 ~ (":" f "$")) {gsub(",", "", $1); t = $1} END {print t + 0}'
}
per() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a / b}'; }

# ---- 1. formatting N doubles ------------------------------------------------------
format_part() {
git -C "$SRC" show "$OLD_REV:base/jsonw.c" |
  awk 'BEGIN {print "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"base/buf.h\""}
       /^void jsonw_double\(/ {on=1; sub("jsonw_double", "old_jsonw_double")}
       on {print} on && /^}/ {on=0}' >"$WORK/old_jsonw.c"
cc -O2 -g -std=c11 -D_GNU_SOURCE -I"$SRC" -o "$WORK/dtoa_bench" "$HERE/dtoa_bench.c" \
  "$WORK/old_jsonw.c" "$BUILD/base/libstrata_base.a" -ljansson -lcrypto -lpthread -lm
printf '| values (%s each) | new: base/dtoa.c | old: snprintf+strtod loop | glibc printf("%%.17g") |\n' "$N"
printf '|---|---|---|---|\n'
for dist in bits unit short; do
  row="| $dist"
  for way in new old printf; do
    out="$WORK/cg.$way.$dist"
    valgrind --tool=callgrind --toggle-collect=format_all --callgrind-out-file="$out" \
      "$WORK/dtoa_bench" "$way" "$dist" "$N" >"$out.log" 2>&1 ||
      { cat "$out.log" >&2; exit 1; }
    row+=" | $(per "$(totals "$out")" "$N") instr/value"
  done
  echo "$row |"
done
}

# ---- 2. GET of a 10-feature row -----------------------------------------------------
get_path() { # BUILD_DIR label
  local bdir="$1" label="$2" port url data out pid ids
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  data="$WORK/data.$label"
  out="$WORK/cg.get.$label"
  valgrind --tool=callgrind --toggle-collect=api_online_get --callgrind-out-file="$out" \
    "$bdir/serving/stratad" --data-dir "$data" --listen "127.0.0.1:$port" --log-level warn \
    >"$out.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$url/healthz" "stratad ($label)" 1200
  api() { curl -fsS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$url$2" >/dev/null; }
  api POST /v1/entities '{"name":"user","description":"bench/dtoa"}'
  # the same 10 features and value shapes as bench/online
  api POST /v1/entities/user/features '{"features":[
    {"name":"ctr_1d","type":"DOUBLE"},{"name":"ctr_7d","type":"DOUBLE"},
    {"name":"spend_30d","type":"DOUBLE"},{"name":"avg_session_s","type":"DOUBLE"},
    {"name":"score_a","type":"DOUBLE"},{"name":"score_b","type":"DOUBLE"},
    {"name":"orders_30d","type":"INT64"},{"name":"days_active","type":"INT64"},
    {"name":"country","type":"STRING"},{"name":"segment","type":"STRING"}]}'
  awk 'BEGIN {
    split("US DE FR GB JP BR IN CA", cc, " ");
    printf "{\"rows\":[";
    for (k = 0; k < 200; k++) {
      if (k) printf ",";
      printf "{\"entity_id\":\"u%d\",\"event_time\":\"2024-06-01T12:%02d:%02d.%06dZ\",\"values\":{", k, (k / 60) % 60, k % 60, k;
      printf "\"ctr_1d\":%.17g,\"ctr_7d\":%.17g,\"spend_30d\":%.2f,\"avg_session_s\":%.3f,", (k % 997) / 997.0, (k % 991) / 991.0, (k * 7919 % 100000) / 100.0, (k % 3600) + 0.5;
      printf "\"score_a\":%.17g,\"score_b\":%.17g,\"orders_30d\":%d,\"days_active\":%d,", (k % 10007) / 10007.0, 1 - (k % 4001) / 4001.0, k % 97, k % 366;
      printf "\"country\":\"%s\",\"segment\":\"seg_%d\"}}", cc[k % 8 + 1], k % 13;
    }
    printf "]}";
  }' >"$WORK/rows.json"
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/rows.json" \
    "$url/v1/entities/user:write" >/dev/null
  ids=""
  for i in $(seq "$GETS"); do ids+="$url/v1/entities/user/values/u$(( (i * 37) % 200 )) "; done
  # shellcheck disable=SC2086
  curl -fsS $ids >/dev/null
  curl -fsS "$url/v1/entities/user/values/u7" >"$WORK/get.$label.json"
  kill "$pid"
  wait "$pid" || true
  local total fmt
  total="$(totals "$out")"
  fmt="$(inclusive "$out" jsonw_double)"
  echo "| $label | $(per "$total" $((GETS + 1))) | $(per "$fmt" $((GETS + 1))) | $(awk -v a="$fmt" -v b="$total" 'BEGIN {printf "%.1f%%", 100 * a / b}') |"
}
get_part() {
  printf '| GET /v1/entities/user/values/{id}, 10 features (6 DOUBLE) | instr/request in api_online_get | of which jsonw_double | share |\n'
  printf '|---|---|---|---|\n'
  [ -z "$OLD_BUILD" ] || get_path "$OLD_BUILD" old
  get_path "$BUILD" new
  if [ -n "$OLD_BUILD" ] && ! cmp -s "$WORK/get.old.json" "$WORK/get.new.json"; then
    echo "note: the old and new GET bodies differ:" >&2
    diff <(tr ',' '\n' <"$WORK/get.old.json") <(tr ',' '\n' <"$WORK/get.new.json") >&2 || true
  fi
}

case " $PARTS " in *" format "*) format_part; echo ;; esac
case " $PARTS " in *" get "*) get_part ;; esac
