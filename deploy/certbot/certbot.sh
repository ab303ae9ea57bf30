#!/bin/sh
# The certbot service (docker-compose.yml: certbot): Let's Encrypt certificates for DOMAIN with
# the HTTP-01 webroot challenge that nginx serves, obtained once and renewed for ever after.
#
# 1. nginx cannot start without a certificate, so until there is a real one this puts a
#    self-signed placeholder in TLS_DIR (the service's health check waits for it, and nginx for
#    the health check).
# 2. It waits until nginx serves the challenge folder, then asks Let's Encrypt; on failure (DNS
#    not pointing here yet, port 80 closed) it tries again every RETRY_INTERVAL seconds (900: at
#    most 4 failures an hour, within Let's Encrypt's limit of 5).
# 3. Twice a day it runs `certbot renew`, which renews within 30 days of expiry.
# Each new certificate is copied to TLS_DIR by deploy-hook.sh; nginx reloads by itself
# (deploy/nginx/reload-on-new-certificate.sh).
set -eu

: "${DOMAIN:?set DOMAIN in .env}"
here=$(cd "$(dirname "$0")" && pwd)
tls_dir="${TLS_DIR:-/tls}"
webroot="${ACME_WEBROOT:-/var/www/certbot}"
le_dir="${LETSENCRYPT_DIR:-/etc/letsencrypt}"
probe_url="${ACME_PROBE_URL:-http://nginx/.well-known/acme-challenge}"
renew_every="${RENEW_INTERVAL:-43200}"
retry_every="${RETRY_INTERVAL:-900}"
hook="sh $here/deploy-hook.sh"
export TLS_DIR="$tls_dir"

log() { echo "certbot-service: $*"; }
pause() { sleep "$1" & wait $!; }
trap 'exit 0' TERM INT

if [ -z "${LETSENCRYPT_EMAIL:-}" ]; then
  log "set LETSENCRYPT_EMAIL in .env (Let's Encrypt's notices about the certificate go there)"
  exit 1
fi
staging=""
if [ "${LETSENCRYPT_STAGING:-0}" = 1 ]; then staging="--staging"; fi
mkdir -p "$tls_dir" "$webroot/.well-known/acme-challenge"
have_certificate() { [ -f "$le_dir/renewal/$DOMAIN.conf" ] && [ -e "$le_dir/live/$DOMAIN/fullchain.pem" ]; }

# 1. Something for nginx to start with.
if have_certificate; then
  # The certificate we already have (TLS_DIR may be a new volume).
  RENEWED_LINEAGE="$le_dir/live/$DOMAIN" $hook
elif [ ! -s "$tls_dir/fullchain.pem" ] || [ ! -s "$tls_dir/privkey.pem" ]; then
  python3 "$here/placeholder-certificate.py" "$DOMAIN" "$tls_dir/fullchain.pem" "$tls_dir/privkey.pem"
fi

# 2. The first certificate.
while ! have_certificate; do
  probe="probe-$$"
  echo ok > "$webroot/.well-known/acme-challenge/$probe"
  until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "$probe_url/$probe" 2>/dev/null; do
    log "waiting for nginx to serve $probe_url/"
    pause 5
  done
  rm -f "$webroot/.well-known/acme-challenge/$probe"
  log "asking Let's Encrypt for a certificate for $DOMAIN ${staging:+(staging)}"
  if certbot certonly --non-interactive --agree-tos --no-eff-email --email "$LETSENCRYPT_EMAIL" $staging \
    --config-dir "$le_dir" --webroot --webroot-path "$webroot" --cert-name "$DOMAIN" -d "$DOMAIN" \
    --deploy-hook "$hook"; then
    break
  fi
  log "no certificate for $DOMAIN yet (does its DNS point to this machine? is port 80 open?); trying again in ${retry_every}s"
  pause "$retry_every"
done

# 3. Renewals.
while :; do
  certbot renew --non-interactive --config-dir "$le_dir" --webroot --webroot-path "$webroot" \
    --deploy-hook "$hook" || log "renewal failed; trying again in ${renew_every}s"
  pause "$renew_every"
done
