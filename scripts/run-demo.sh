#!/usr/bin/env bash
# `make run`: start stratad on ./strata-data, load a small demo (once), print
# what to try next, and keep the daemon in the foreground until Ctrl-C.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
listen=${STRATA_LISTEN:-127.0.0.1:7070}
url="http://$listen"
stratad="$build/serving/stratad"
cli="$build/client/strata"

demo="$PWD/scripts/demo"  # applicants.csv, outcomes.csv, credit.json (make_demo.py)
"$stratad" --data-dir ./strata-data --listen "$listen" --import-dir "$demo" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT

for _ in $(seq 1 100); do
  if "$cli" --url "$url" entity list >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "stratad did not start (see above)" >&2; exit 1; fi
  sleep 0.1
done

if ! "$cli" --url "$url" entity show customer >/dev/null 2>&1; then
  "$cli" --url "$url" entity create customer --description "A shop's customers" --label team=growth >/dev/null
  "$cli" --url "$url" feature create customer age --type INT64 --description "Age in years" >/dev/null
  "$cli" --url "$url" feature create customer city --type STRING --description "Home city" >/dev/null
  "$cli" --url "$url" feature create customer spend_30d --type DOUBLE --ttl 2592000 \
    --description "Spend over the last 30 days" --label unit=EUR >/dev/null
  "$cli" --url "$url" write customer - >/dev/null <<'ROWS'
{"entity_id":"c1","event_time":"2024-01-01T00:00:00Z","values":{"age":31,"city":"Oslo","spend_30d":120.5}}
{"entity_id":"c1","event_time":"2024-02-01T00:00:00Z","values":{"city":"Bergen"}}
{"entity_id":"c2","values":{"age":45,"city":"Lisbon","spend_30d":99.0}}
{"entity_id":"c3","values":{"age":27,"city":null}}
ROWS
fi

# Loan applicants: an import, a model trained with a fairness check, and its
# lineage, so provenance and the evaluation report have something to show.
if ! "$cli" --url "$url" entity show applicant >/dev/null 2>&1; then
  "$cli" --url "$url" entity create applicant --description "Loan applicants (synthetic)" >/dev/null
  "$cli" --url "$url" import applicant applicants.csv --time-column ts --create-features \
    --wait >/dev/null
  "$cli" --url "$url" train "$demo/credit.json" --wait >/dev/null 2>&1
fi

cat <<MSG

  Strata is running at $url  (data in ./strata-data; Ctrl-C stops it)

  Try:
    curl -s $url/v1/entities/customer/values/c1
    $cli get customer c2 age city spend_30d
    curl -s -X POST $url/v1/online:read -d '{"entity":"customer","ids":["c1","c2","c3"],"features":["age","city"]}'

  A model's origins and a fairness report (open report.html in a browser):
    $cli provenance credit
    $cli evaluate --model credit --instances outcomes.csv --timestamp-column ts \\
        --label-column repaid --group-by applicant:sex,region --report report.html

  More in README.md ("A five-minute tour") and docs/.
MSG
wait $pid
