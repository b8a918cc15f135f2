"""A loopback TLS proxy with a private CA, in front of a plain-HTTP endpoint (moto, endpoint.py).

Production starts talk HTTPS to Secrets Manager; this puts the handshake, the certificate
verification and the trust store into the benchmark. It makes a private CA and a server
certificate for 127.0.0.1 (RSA 2048, like the certificates of AWS endpoints), writes into DIR:

  ca.pem      the private CA alone (what SSL_CERT_FILE adds to the system store)
  bundle.pem  the system CA bundle followed by the private CA (for clients whose CA option
              replaces the system store: curl --cacert, AWS_CA_BUNDLE for Python)

so that every client trusts the same set, then forwards each TLS connection to UPSTREAM.

    python3 bench/tls_proxy.py --upstream PORT --dir DIR

prints its port on the first line of stdout and serves until its standard input closes.
"""

import argparse
import datetime
import ipaddress
import socket
import ssl
import sys
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def make_certificates(out: Path) -> tuple[Path, Path]:
    """Writes ca.pem, bundle.pem, server.pem and server.key into `out`; returns the server pair."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shortcut-env bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (out / "ca.pem").write_bytes(ca_pem)
    system = SYSTEM_BUNDLE.read_bytes() if SYSTEM_BUNDLE.is_file() else b""
    (out / "bundle.pem").write_bytes(system + b"\n" + ca_pem)
    (out / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    (out / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return out / "server.pem", out / "server.key"


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(conn: socket.socket, context: ssl.SSLContext, upstream: int) -> None:
    try:
        tls = context.wrap_socket(conn, server_side=True)
        back = socket.create_connection(("127.0.0.1", upstream))
    except (OSError, ssl.SSLError):
        conn.close()
        return
    threading.Thread(target=pump, args=(back, tls), daemon=True).start()
    pump(tls, back)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    cert, key = make_certificates(args.dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    print(listener.getsockname()[1], flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn, context, args.upstream), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
