"""A self-signed placeholder certificate, so nginx can start (and serve Let's Encrypt's challenge)
before the first real certificate exists. Uses `cryptography`, which certbot itself depends on.

    python3 placeholder-certificate.py <domain> <fullchain.pem> <privkey.pem>
"""

import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

domain, cert_path, key_path = sys.argv[1:4]
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
now = datetime.datetime.now(datetime.timezone.utc)
certificate = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(minutes=5))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
    .sign(key, hashes.SHA256())
)

# Written next to the target and renamed, key first: never a half-written file in place.
with open(key_path + ".new", "wb") as f:
    os.chmod(key_path + ".new", 0o600)
    f.write(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
with open(cert_path + ".new", "wb") as f:
    f.write(certificate.public_bytes(serialization.Encoding.PEM))
os.replace(key_path + ".new", key_path)
os.replace(cert_path + ".new", cert_path)
print(f"placeholder-certificate: self-signed certificate for {domain} in {cert_path}")
