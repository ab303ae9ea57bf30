#!/bin/sh
# certbot --deploy-hook: after a certificate was obtained or renewed, copy it (symlinks followed)
# to TLS_DIR, the volume nginx reads it from; deploy/nginx/reload-on-new-certificate.sh then
# reloads nginx. certbot sets RENEWED_LINEAGE (/etc/letsencrypt/live/<domain>).
# The key is moved into place before the chain, and each file by rename, so nginx never reads a
# half-written file or a new chain with the old key.
set -eu

: "${RENEWED_LINEAGE:?run by certbot as a deploy hook (RENEWED_LINEAGE is not set)}"
tls_dir="${TLS_DIR:-/tls}"

umask 077
cp -L "$RENEWED_LINEAGE/privkey.pem" "$tls_dir/.privkey.pem.new"
cp -L "$RENEWED_LINEAGE/fullchain.pem" "$tls_dir/.fullchain.pem.new"
chmod 0644 "$tls_dir/.fullchain.pem.new"
mv -f "$tls_dir/.privkey.pem.new" "$tls_dir/privkey.pem"
mv -f "$tls_dir/.fullchain.pem.new" "$tls_dir/fullchain.pem"
echo "deploy-hook: installed the certificate of $RENEWED_LINEAGE in $tls_dir"
