#!/bin/sh
# Reloads nginx when the certificate changes, so a renewal needs no restart (docker-compose.yml
# mounts this into the nginx image's /docker-entrypoint.d/, which runs it before nginx starts).
# The certbot service copies each new certificate into TLS_DIR (deploy/certbot/deploy-hook.sh);
# this looks every CERT_CHECK_INTERVAL seconds (default 60) and sends nginx SIGHUP on a change.
# A reload that fails (a broken file) leaves nginx running with the configuration it had.
#
#   reload-on-new-certificate.sh              start watching in the background and return
#   reload-on-new-certificate.sh --foreground watch in this process (tests)
set -eu

tls_dir="${TLS_DIR:-/etc/nginx/tls}"
interval="${CERT_CHECK_INTERVAL:-60}"
pid_file="${NGINX_PID_FILE:-/run/nginx.pid}"

if [ "${1:-}" != "--foreground" ]; then
  if [ ! -e "$tls_dir/fullchain.pem" ]; then
    echo "$0: no $tls_dir/fullchain.pem (no TLS here); not watching"
    exit 0
  fi
  "$0" --foreground &
  exit 0
fi

fingerprint() { cat "$tls_dir/fullchain.pem" "$tls_dir/privkey.pem" 2>/dev/null | cksum; }

last=$(fingerprint)
echo "$0: reloading nginx when $tls_dir/fullchain.pem changes (checked every ${interval}s)"
while sleep "$interval"; do
  now=$(fingerprint)
  [ "$now" = "$last" ] && continue
  last=$now
  if [ -s "$pid_file" ]; then
    echo "$0: the certificate changed; reloading nginx"
    kill -HUP "$(cat "$pid_file")" || echo "$0: could not signal nginx"
  fi
done
