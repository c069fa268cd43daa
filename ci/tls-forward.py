#!/usr/bin/env python3
"""A TLS front for kapso-sim, for the container checks only.

The gate sends its API key over http only to a loopback host, and a container (`podman run` in
ci/container-check.sh, or a `docker://` step on GitHub) must use TLS to reach the host's
simulator through anything but loopback. This makes a throwaway CA and a server certificate for --ip with
openssl, writes the CA to DIR/ca.pem (give it to the gate with SSL_CERT_FILE, or mount it over the
image's CA bundle), then forwards TLS connections on --listen to the plain-HTTP --upstream.

usage: tls-forward.py --dir DIR --ip IP --listen HOST:PORT --upstream HOST:PORT
Prints `listening on HOST:PORT` once ready.
"""

import argparse
import asyncio
import pathlib
import ssl
import subprocess


def make_certs(directory: pathlib.Path, ip: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=kapso-gate test CA",
            "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.pem"))
    openssl("req", "-new", *ec, "-subj", f"/CN={ip}",
            "-keyout", str(directory / "server.key"), "-out", str(directory / "server.csr"))
    ext = directory / "server.ext"
    ext.write_text(
        f"subjectAltName=IP:{ip}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl("x509", "-req", "-days", "2", "-in", str(directory / "server.csr"),
            "-CA", str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"), "-CAcreateserial",
            "-extfile", str(ext), "-out", str(directory / "server.pem"))
    (directory / "ca.pem").chmod(0o644)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


def split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=pathlib.Path)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()

    make_certs(args.dir, args.ip)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.dir / "server.pem", args.dir / "server.key")
    up_host, up_port = split(args.upstream)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(up_host, up_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    host, port = split(args.listen)
    server = await asyncio.start_server(handle, host, port, ssl=context)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
