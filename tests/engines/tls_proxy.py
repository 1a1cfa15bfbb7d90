"""A TLS endpoint in front of a loopback TCP service, as a TLS-terminating proxy fronts
ClickHouse in a deployment: `python tls_proxy.py DIR PORT TARGET_PORT`. Makes a private
certificate authority in DIR (DIR/ca.pem, for the client to trust) and a certificate for
localhost and 127.0.0.1 signed by it, then forwards every connection to TARGET_PORT."""

import asyncio
import os
import ssl
import subprocess
import sys


def make_certificates(directory: str) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "30", "-subj", "/CN=Satisfy test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(directory, "san.cnf"), "w", encoding="utf-8") as san:
        san.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "30", "-extfile", "san.cnf")


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def serve(directory: str, port: int, target: int) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))

    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=context)
    async with server:
        await server.serve_forever()


def main() -> None:
    directory, port, target = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(directory, exist_ok=True)
    make_certificates(directory)
    asyncio.run(serve(directory, port, target))


if __name__ == "__main__":
    main()
