#!/usr/bin/env bash
# Study web app behind nginx with TLS (issue 23): RATERS (default 200) simulated raters complete a
# study at once through nginx + TLS, and the same load straight to the app, against the same
# `persona study serve` (Release) in the same run; the order alternates between repeats.
# Every rater connects from its own loopback address (127.0.1.x direct, 127.0.2.x through nginx),
# as separate machines would, so the per-address entry limit applies as in the field; nginx reaches
# the app from 127.0.0.2, the only --trusted-proxy. Half the raters post every answer twice.
# Floor (issue 23): submission p99 under 200 ms; every acknowledged answer stored exactly once.
# THINK_MS (default 0): mean pause of a rater before each answer (uniform 0.5-1.5x). 0 saturates the
# server (200 requests always in flight: latency is then 200 / throughput, Little's law); a real rater
# reads for a minute or more, so THINK_MS=1000 is still about 60 times faster than a study in the field.
# Usage: perf/study/proxy.sh [REPEATS]   (env: RATERS=200 THINK_MS=0 WORK=/tmp/persona-perf-study-proxy)
# Needs nginx and openssl (tests/study-proxy/run.sh installs them). Only 127.0.0.0/8 is used.
# Writes perf/results/study-proxy-<date>.json (one line per repeat and mode, load average before/after).
set -euo pipefail
REPEATS=${1:-1}
RATERS=${RATERS:-200}
THINK_MS=${THINK_MS:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/persona-perf-study-proxy}
[ -x /usr/sbin/nginx ] || { echo "nginx is missing: run tests/study-proxy/run.sh (or apt-get install -y nginx)"; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK/tmp"; chmod 1777 "$WORK/tmp"
dotnet build "$ROOT/src/Persona.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$ROOT/perf/study" -c Release -v q -nologo >/dev/null
CLI="$ROOT/src/Persona.Cli/bin/Release/net10.0/persona"
BENCH="$ROOT/perf/study/bin/Release/net10.0/Persona.Perf.Study"
export PERSONA_STUDY_ADMIN_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
PIN=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d ':')
# Two runs per study (direct and through nginx), each RATERS + 1 warm-up rater, 4 places per persona.
PERSONAS=$(( (2 * (RATERS + 1) + 3) / 4 ))
"$BENCH" pairs --personas "$PERSONAS" --items 10 --out "$WORK/pairs"
OUT="$ROOT/perf/results/study-proxy-$(date -u +%Y-%m-%d)-think$THINK_MS.json"
: > "$WORK/results.jsonl"
SERVER=""; NGINX=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "$NGINX" ] && kill -QUIT "$NGINX" 2>/dev/null || true
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for r in $(seq "$REPEATS"); do
  "$CLI" study create --pairs "$WORK/pairs" --out "$WORK/study-$r" --persona-count "$PERSONAS" --seed "$r" > /dev/null
  "$CLI" study serve "$WORK/study-$r" --urls http://127.0.0.1:0 --trusted-proxy 127.0.0.2 > "$WORK/serve-$r.log" 2>&1 &
  SERVER=$!
  ENTRY=""
  for _ in $(seq 150); do
    ENTRY=$(grep -o 'http://127\.0\.0\.1:[0-9]*/s/[A-Za-z0-9_-]*' "$WORK/serve-$r.log" | head -1 || true)
    [ -n "$ENTRY" ] && break; sleep 0.1
  done
  [ -n "$ENTRY" ] || { echo "server did not start"; cat "$WORK/serve-$r.log"; exit 1; }
  BASE=${ENTRY%%/s/*}; PATH_PART=/s/${ENTRY#*/s/}
  PORT=$(free_port)
  # The README's site block, on loopback ports, with the upstream and certificate of this run.
  cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp/body; proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi; uwsgi_temp_path $WORK/tmp/uwsgi; scgi_temp_path $WORK/tmp/scgi;
  upstream persona_study { server ${BASE#http://}; keepalive 64; }
  server {
    listen 127.0.0.1:$PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 64k;
    location / {
      proxy_pass http://persona_study;
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
NGINX
  /usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" -g 'daemon off;' &
  NGINX=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  modes="direct proxy"; [ $((r % 2)) -eq 0 ] && modes="proxy direct"
  for mode in $modes; do
    if [ "$mode" = direct ]; then args=(--base "$BASE" --from 127.0.1.); else args=(--base "https://127.0.0.1:$PORT" --from 127.0.2. --pin "$PIN"); fi
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    LINE=$(timeout 600 "$BENCH" load "${args[@]}" --admin-base "$BASE" --entry "$PATH_PART" --raters "$RATERS" --baseline-requests 20 --pid-prefix "$mode" --think-ms "$THINK_MS") || { echo "$LINE"; echo "load run failed ($mode)"; exit 1; }
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(mode=sys.argv[2], repeat=int(sys.argv[3]), loadavg_before=sys.argv[4], loadavg_after=sys.argv[5]); print(json.dumps(d))' \
      "$LINE" "$mode" "$r" "$LOAD_BEFORE" "$LOAD_AFTER" | tee -a "$WORK/results.jsonl"
  done
  kill -QUIT "$NGINX"; wait "$NGINX" 2>/dev/null || true; NGINX=""
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
cp "$WORK/results.jsonl" "$OUT"
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for mode in ("direct", "proxy"):
    rs = [r for r in rows if r["mode"] == mode]
    med = lambda f: statistics.median(f(r) for r in rs)
    print(f"{mode:6} (median of {len(rs)}): {med(lambda r: r['requests_per_s']):.0f} req/s; submit p50 {med(lambda r: r['submit']['p50_ms']):.1f} ms, "
          f"p99 {med(lambda r: r['submit']['p99_ms']):.1f} ms; page p99 {med(lambda r: r['page']['p99_ms']):.1f} ms; "
          f"baseline '/' p99 {med(lambda r: r['baseline']['latency']['p99_ms']):.1f} ms; acknowledged {sum(r['answers_acknowledged'] for r in rs)}, "
          f"lost {sum(r['lost'] for r in rs)}, duplicated {sum(r['duplicated'] for r in rs)}, failures {sum(r['failures'] for r in rs)}, 4xx/5xx {sum(r['non_2xx_3xx'] for r in rs)}")
PY
