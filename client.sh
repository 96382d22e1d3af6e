#!/usr/bin/env bash
# curl examples of every public endpoint, runnable top to bottom against a running cluster (make run).
#   PROXY=http://127.0.0.1:8080 ./client.sh
set -euo pipefail
P=${PROXY:-http://127.0.0.1:8080}
B=photos-$RANDOM
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
show() { echo "\$ $*"; "$@"; echo; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "a picture of a cat" >"$tmp/cat.jpg"; echo "a dog" >"$tmp/dog.jpg"

say "Health and membership (N, R, W, every node's status, ring ownership)"
show curl -s "$P/health"
show curl -s "$P/cluster"

say "Create a bucket (201), again (409 BucketAlreadyExists), a bad name (400 InvalidBucketName)"
show curl -s -X POST "$P/buckets/$B"
show curl -s -X POST "$P/buckets/$B"
show curl -s -X POST "$P/buckets/Bad_Name"
show curl -s "$P/buckets"
show curl -s "$P/buckets?limit=2"   # paged like files: pass next_cursor as ?cursor= for the next page

say "Upload with a multipart form (the seeds' way): the key is the file name; the answer has the coordinator node, the preference list and every replica's vector clock"
show curl -s -F "file=@$tmp/cat.jpg" -F "file=@$tmp/dog.jpg" "$P/buckets/$B/files"

say "Raw streamed upload (curl -T), keys may contain slashes; so may a multipart file name"
show curl -s -T "$tmp/cat.jpg" "$P/buckets/$B/files/albums/2026/cat.jpg"
show curl -s -F "file=@$tmp/dog.jpg;filename=albums/2025/dog.jpg" "$P/buckets/$B/files"

say "Active content (HTML, SVG, XML, scripts) is a sandboxed download unless ?inline=true; every answer has nosniff"
echo '<h1>hello</h1>' >"$tmp/page.html"
show curl -s -F "file=@$tmp/page.html;type=text/html" "$P/buckets/$B/files"
show curl -s -I "$P/buckets/$B/files/page.html"
show curl -s -I "$P/buckets/$B/files/page.html?inline=true"

say "Read: the bytes, with ETag, X-Context and X-Vector-Clock headers; HEAD for headers only"
show curl -s -i "$P/buckets/$B/files/cat.jpg"
show curl -s -I "$P/buckets/$B/files/cat.jpg"

say "List files (prefix, limit, cursor)"
show curl -s "$P/buckets/$B/files"
show curl -s "$P/buckets/$B/files?prefix=albums/&limit=10"

say "Conflicts: two clients write over the same context -> 300 with both siblings -> resolve with the 300's context"
CTX=$(curl -s -I "$P/buckets/$B/files/cat.jpg" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-context"{print $2}')
show curl -s -X PUT --data-binary "alice's cat" -H "X-Context: $CTX" "$P/buckets/$B/files/cat.jpg"
show curl -s -X PUT --data-binary "bob's cat" -H "X-Context: $CTX" "$P/buckets/$B/files/cat.jpg"
show curl -s "$P/buckets/$B/files/cat.jpg"
CTX2=$(curl -s -I "$P/buckets/$B/files/cat.jpg" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-context"{print $2}')
V1=$(curl -s "$P/buckets/$B/files/cat.jpg" | jq -r '.siblings[0].version')
show curl -s "$P/buckets/$B/files/cat.jpg?version=$V1"
show curl -s -X PUT --data-binary "alice's and bob's cat" -H "X-Context: $CTX2" "$P/buckets/$B/files/cat.jpg"
show curl -s "$P/buckets/$B/files/cat.jpg"

say "Quorum knobs per request (?r= and ?w=, 1..N); a forged context is refused (400 InvalidContext)"
show curl -s "$P/buckets/$B/files/cat.jpg?r=3"
show curl -s -X PUT --data-binary x -H "X-Context: forged" "$P/buckets/$B/files/cat.jpg"

say "Request ids: a valid X-Request-Id is echoed (and passed to the nodes' logs); otherwise the proxy makes one"
show curl -s -o /dev/null -D - -H "X-Request-Id: client-sh.1" "$P/buckets/$B/files/cat.jpg"

say "Key-value API (seed 002): set, fetch, query, and every pair paged with X-Next-Cursor"
show curl -s -X PUT "$P/set" -d '[{"key":{"encoding":"string","data":"key1"},"value":{"encoding":"string","data":"data1"}}]'
show curl -s -X POST "$P/fetch" -d '[{"encoding":"string","data":"key1"}]'
show curl -s -X POST "$P/query" -d '[{"encoding":"string","data":"key1"},{"encoding":"string","data":"nokey"}]'
show curl -s -D - "$P/fetch?limit=2"

say "Delete: a tombstone with its own vector clock (both path forms); a non-empty bucket is 409 unless ?force=true"
show curl -s -X DELETE "$P/buckets/$B/files/cat.jpg"
show curl -s -X DELETE "$P/buckets/$B/dog.jpg"
show curl -s -X DELETE "$P/buckets/$B"
show curl -s -X DELETE "$P/buckets/$B?force=true"
show curl -s "$P/buckets/$B/files/cat.jpg"
