#!/usr/bin/env bash
# The producer/consumer exchange with curl alone, against `deno task start`
# (or the server named by the first argument, else by $STRATA_URL).
# A producer publishes 4 particles as an array of structs {x, y float64};
# a consumer attaches only x, as a column, from the latest committed version.
set -euo pipefail
URL=${1:-${STRATA_URL:-http://127.0.0.1:7070}}

curl -sf -X POST -H 'content-type: application/json' "$URL/v1/datasets" -d '{
  "name": "curl-particles",
  "description": "dataset curl_particles { var p [4]struct { x, y float64 } }\nfragment xs columnar { var p { x } = p }",
  "overwrite": true
}' >/dev/null || true   # already there from an earlier run

version=$(( $(curl -sf "$URL/v1/datasets/curl-particles/versions" | grep -o '"version":[0-9]*' | tail -1 | cut -d: -f2 || echo 0) + 1 ))

# Producer: x = 1..4, y = -1..-4, packed little-endian float64 pairs.
python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<8d", 1,-1, 2,-2, 3,-3, 4,-4))' |
  curl -sf -X PUT -H 'content-type: application/octet-stream' --data-binary @- \
    "$URL/v1/datasets/curl-particles/versions/$version/fragments/dataset"
echo

# Consumer: the x column of the latest committed version, as 4 float64.
curl -sf "$URL/v1/datasets/curl-particles/versions/latest/fragments/xs" |
  python3 -c 'import struct,sys; print("x =", struct.unpack("<4d", sys.stdin.buffer.read()))'
