#!/bin/sh
# Demo traffic for docker compose: steady requests like the walkthrough's curls, and every few
# minutes a 5xx burst from /api/flaky so the "5xx spike" alert rule has something to catch.
# Bounded: stops after TRAFFIC_SECONDS (default one day).
set -u
target=${TARGET:-http://nginx}
end=$(( $(date +%s) + ${TRAFFIC_SECONDS:-86400} ))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
  i=$((i + 1))
  curl -s -o /dev/null "$target/index.html"
  curl -s -o /dev/null "$target/50x.html"
  curl -s -o /dev/null "$target/error.html"
  curl -s -o /dev/null -H 'content-type: application/json' "$target/api/flaky"
  # A burst: 60 s of errors every ~5 minutes (300 iterations of ~1 s).
  if [ $((i % 300)) -eq 0 ]; then touch /flaky/flaky-on; fi
  if [ $((i % 300)) -eq 60 ]; then rm -f /flaky/flaky-on; fi
  sleep 1
done
