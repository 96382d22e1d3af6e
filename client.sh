#!/usr/bin/env bash
# curl examples of every public endpoint, runnable top to bottom against a running cluster (make run).
# Credentials come from run/credentials (make run writes it; docs/access.md), the proxy from its DYNAMO_URL:
#   ./client.sh            PROXY=http://127.0.0.1:8080 ./client.sh            CREDENTIALS=other/credentials ./client.sh
set -euo pipefail
cd "$(dirname "$0")"
CREDENTIALS=${CREDENTIALS:-${RUN_DIR:-run}/credentials}
if [ -f "$CREDENTIALS" ]; then set -a; . "$CREDENTIALS"; set +a; fi
: "${AWS_ACCESS_KEY_ID:?no access key: make run writes $CREDENTIALS; or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY}"
P=${PROXY:-${DYNAMO_URL:-http://127.0.0.1:8080}}
export DYNAMO_URL=$P   # ./dynamoctl talks to the same proxy
# TLS=on: the proxy's certificate is signed by the cluster's own CA (run/tls/ca.crt); curl and aws check it with that.
CA=${RUN_DIR:-run}/tls/ca.crt
if [[ $P == https://* && -f $CA ]]; then export CURL_CA_BUNDLE=$CA AWS_CA_BUNDLE=$CA; fi
B=photos-$RANDOM
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
# show: print the command (secrets as the variables that hold them), run it.
show() {
  local cmd="$*" name
  for name in AWS_SECRET_ACCESS_KEY R_SECRET; do [ -n "${!name:-}" ] && cmd=${cmd//"${!name}"/"\$$name"}; done
  echo "\$ $cmd"; "$@"; echo
}
# scurl: curl signing every request with AWS Signature V4 and the key of run/credentials. curl signs a
# -d/--data-binary body's SHA-256 without sending it, which the proxy can check only by reading the
# body first (it does up to 1 MiB): the header says the body is not signed (docs/access.md#the-payload-hash).
scurl() { curl --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "a picture of a cat" >"$tmp/cat.jpg"; echo "a dog" >"$tmp/dog.jpg"
echo "scurl = curl --aws-sigv4 \"aws:amz:${AWS_REGION:-us-east-1}:s3\" --user \"\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY\" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'   (key $AWS_ACCESS_KEY_ID from $CREDENTIALS)"

say "Health (open to anyone) and membership (an admin key: N, R, W, every node's status, ring ownership)"
show curl -s "$P/health"
show scurl -s "$P/cluster"

say "Create a bucket (201), again (409 BucketAlreadyExists), a bad name (400 InvalidBucketName)"
show scurl -s -X POST "$P/buckets/$B"
show scurl -s -X POST "$P/buckets/$B"
show scurl -s -X POST "$P/buckets/Bad_Name"
show scurl -s "$P/buckets"
show scurl -s "$P/buckets?limit=2"   # paged like files: pass next_cursor as ?cursor= for the next page

say "Upload with a multipart form (the seeds' way): the key is the file name; the answer has the coordinator node, the preference list and every replica's vector clock"
show scurl -s -F "file=@$tmp/cat.jpg" -F "file=@$tmp/dog.jpg" "$P/buckets/$B/files"

say "Raw streamed upload (curl -T), keys may contain slashes; so may a multipart file name"
show scurl -s -T "$tmp/cat.jpg" "$P/buckets/$B/files/albums/2026/cat.jpg"
show scurl -s -F "file=@$tmp/dog.jpg;filename=albums/2025/dog.jpg" "$P/buckets/$B/files"

say "Active content (HTML, SVG, XML, scripts) is a sandboxed download unless ?inline=true; every answer has nosniff"
echo '<h1>hello</h1>' >"$tmp/page.html"
show scurl -s -F "file=@$tmp/page.html;type=text/html" "$P/buckets/$B/files"
show scurl -s -I "$P/buckets/$B/files/page.html"
show scurl -s -I "$P/buckets/$B/files/page.html?inline=true"

say "Read: the bytes, with ETag (their MD5), x-content-sha256, X-Context and X-Vector-Clock headers; HEAD for headers only"
show scurl -s -i "$P/buckets/$B/files/cat.jpg"
show scurl -s -I "$P/buckets/$B/files/cat.jpg"

say "Range: 206 with Content-Range (416 InvalidRange past the end); conditions: 304 when If-None-Match names the ETag, 412 PreconditionFailed when If-Match does not"
show scurl -s -i -r 2-8 "$P/buckets/$B/files/cat.jpg"
show scurl -s -i -r 500- "$P/buckets/$B/files/cat.jpg"
ETAG=$(scurl -s -I "$P/buckets/$B/files/cat.jpg" | tr -d '\r' | sed -n 's/^etag: //Ip')
show scurl -s -o /dev/null -w '%{http_code}\n' -H "If-None-Match: $ETAG" "$P/buckets/$B/files/cat.jpg"
show scurl -s -H 'If-Match: "not-the-etag"' "$P/buckets/$B/files/cat.jpg"

say "Conditional PUT: If-None-Match: * creates only (412 here: cat.jpg exists), If-Match replaces only the version it names (checked by a quorum read, not atomic)"
show scurl -s -T "$tmp/dog.jpg" -H 'If-None-Match: *' "$P/buckets/$B/files/cat.jpg"
show scurl -s -T "$tmp/cat.jpg" -H "If-Match: $ETAG" "$P/buckets/$B/files/cat.jpg"

say "List files (prefix, limit, cursor)"
show scurl -s "$P/buckets/$B/files"
show scurl -s "$P/buckets/$B/files?prefix=albums/&limit=10"

say "Access keys: no credentials is 401 Unauthorized, a wrong secret 403 SignatureDoesNotMatch; HTTP Basic (-u) works too, for scripts behind TLS"
show curl -s "$P/buckets"
show curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:not-the-secret-not-the-secret-not-the-se" "$P/buckets"
show curl -s -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$P/buckets/$B/files?limit=1"

say "A read-only key, made with ./dynamoctl: it reads the bucket, its write is refused (403 AccessDenied) and stores nothing"
show ./dynamoctl key create "client-sh reader $B" | tee "$tmp/reader"
R_ID=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$tmp/reader"); R_SECRET=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$tmp/reader")
show ./dynamoctl bucket allow "$B" --key "$R_ID" --read
# A grant reaches every proxy within 5 s; wait for this one.
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$R_ID:$R_SECRET" "$P/buckets/$B/files/dog.jpg")" = 200 ] && break; sleep 0.1; done
show curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$R_ID:$R_SECRET" "$P/buckets/$B/files/dog.jpg"
show curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$R_ID:$R_SECRET" -T "$tmp/cat.jpg" "$P/buckets/$B/files/not-mine.jpg"
show ./dynamoctl bucket info "$B"
show ./dynamoctl key delete "$R_ID"

say "A presigned URL: whoever holds it may GET that one object with plain curl, until it expires"
URL=$(./dynamoctl presign "$B" dog.jpg --expires 300)
echo "$URL"
show curl -s "$URL"

say "Conflicts: two clients write over the same context -> 300 with both siblings -> resolve with the 300's context"
CTX=$(scurl -s -I "$P/buckets/$B/files/cat.jpg" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-context"{print $2}')
show scurl -s -X PUT --data-binary "alice's cat" -H "X-Context: $CTX" "$P/buckets/$B/files/cat.jpg"
show scurl -s -X PUT --data-binary "bob's cat" -H "X-Context: $CTX" "$P/buckets/$B/files/cat.jpg"
show scurl -s "$P/buckets/$B/files/cat.jpg"
echo "# ?explain=1 (admin or owner keys): what each replica and stand-in holds and what a GET answers (docs/operations.md#explaining-a-key)"
echo "\$ scurl -s \"\$P/buckets/\$B/files/cat.jpg?explain=1\" | jq -c '{read, reconciled, held: [.probes[] | {node, role, hint_for, outcome, versions: [.versions[] | {version, size, survives}]}]}'"
scurl -s "$P/buckets/$B/files/cat.jpg?explain=1" | jq -c '{read, reconciled, held: [.probes[] | {node, role, hint_for, outcome, versions: [.versions[] | {version, size, survives}]}]}'
CTX2=$(scurl -s -I "$P/buckets/$B/files/cat.jpg" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-context"{print $2}')
V1=$(scurl -s "$P/buckets/$B/files/cat.jpg" | jq -r '.siblings[0].version')
show scurl -s "$P/buckets/$B/files/cat.jpg?version=$V1"
show scurl -s -X PUT --data-binary "alice's and bob's cat" -H "X-Context: $CTX2" "$P/buckets/$B/files/cat.jpg"
show scurl -s "$P/buckets/$B/files/cat.jpg"

say "Quorum knobs per request (?r= and ?w=, 1..N); a forged context is refused (400 InvalidContext)"
show scurl -s "$P/buckets/$B/files/cat.jpg?r=3"
show scurl -s -X PUT --data-binary x -H "X-Context: forged" "$P/buckets/$B/files/cat.jpg"

say "Request ids: a valid X-Request-Id is echoed (and passed to the nodes' logs); otherwise the proxy makes one"
show scurl -s -o /dev/null -D - -H "X-Request-Id: client-sh.1" "$P/buckets/$B/files/cat.jpg"

say "Key-value API (seed 002): set, fetch, query, and every pair paged with X-Next-Cursor"
show scurl -s -X PUT "$P/set" -d '[{"key":{"encoding":"string","data":"key1"},"value":{"encoding":"string","data":"data1"}}]'
show scurl -s -X POST "$P/fetch" -d '[{"encoding":"string","data":"key1"}]'
show scurl -s -X POST "$P/query" -d '[{"encoding":"string","data":"key1"},{"encoding":"string","data":"nokey"}]'
show scurl -s -D - "$P/fetch?limit=2"

say "S3 on its own port (AWS_ENDPOINT_URL; docs/s3.md): the same buckets and objects, S3's XML; awscli, rclone, s3cmd and the SDKs work unmodified"
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  S3=$AWS_ENDPOINT_URL
  show scurl -s -D - -o /dev/null -T client.sh "$S3/$B/from-s3.sh"
  show scurl -s "$S3/$B?list-type=2&prefix=from-s3"
  show scurl -s -r 0-19 "$P/buckets/$B/files/from-s3.sh"
  show curl -s "$S3/$B/from-s3.sh"
  show scurl -s -X DELETE "$S3/$B/from-s3.sh"
else
  echo "(no AWS_ENDPOINT_URL in $CREDENTIALS: this proxy serves no S3 endpoint)"
fi

say "Delete: a tombstone with its own vector clock (both path forms); a non-empty bucket is 409 unless ?force=true"
show scurl -s -X DELETE "$P/buckets/$B/files/cat.jpg"
show scurl -s -X DELETE "$P/buckets/$B/dog.jpg"
show scurl -s -X DELETE "$P/buckets/$B"
show scurl -s -X DELETE "$P/buckets/$B?force=true"
show scurl -s "$P/buckets/$B/files/cat.jpg"
