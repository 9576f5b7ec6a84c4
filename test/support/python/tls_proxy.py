"""A TLS front for the dev server, which speaks only plaintext: the integration tests connect
Hourglass's worker and client through it to check that TLS and client certificates work.

    python3 tls_proxy.py UPSTREAM_HOST:PORT CERT_DIR

Writes a fresh CA, a server certificate for "localhost" and a client certificate, all signed by
that CA, into CERT_DIR (ca.pem, server.pem, server.key, client.pem, client.key); listens on a
free loopback port with TLS 1.2+ and ALPN h2, requires a client certificate signed by the CA,
and forwards the decrypted bytes to the upstream. Prints "READY <port>", then one "ACCEPTED <cn>"
line per verified connection. Exits when stdin closes (the test's Port goes away).
"""

import asyncio
import datetime
import ipaddress
import os
import ssl
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certificates(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("hourglass test CA"))
        .issuer_name(_name("hourglass test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(os.path.join(directory, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))

    def leaf(common_name, usage, san):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server = leaf(
        "localhost",
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key, client = leaf(
        "hourglass-test-client", x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH, None
    )

    for name, key, cert in [("server", server_key, server), ("client", client_key, client)]:
        pem = cert.public_bytes(serialization.Encoding.PEM)
        _write(os.path.join(directory, f"{name}.pem"), pem)
        _write(os.path.join(directory, f"{name}.key"), _pem_key(key))


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(upstream, directory):
    make_certificates(directory)
    upstream_host, upstream_port = upstream.rsplit(":", 1)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(
        os.path.join(directory, "server.pem"), os.path.join(directory, "server.key")
    )
    context.load_verify_locations(os.path.join(directory, "ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])

    async def handle(client_reader, client_writer):
        peer = client_writer.get_extra_info("peercert") or {}
        common_name = dict(field[0] for field in peer.get("subject", ())).get("commonName", "?")
        print(f"ACCEPTED {common_name}", flush=True)
        try:
            server_reader, server_writer = await asyncio.open_connection(
                upstream_host, int(upstream_port)
            )
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)

    # Serve until stdin closes: the test's Port is gone, and so is the test.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
