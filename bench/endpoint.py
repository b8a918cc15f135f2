"""A tiny canned Secrets Manager endpoint on loopback, with an optional token-bucket throttle.

It answers every POST with a valid GetSecretValue JSON document (awsJson 1.1), unless the token
bucket is empty, in which case it answers like the real service does when a quota is exceeded:
HTTP 400, header ``x-amzn-ErrorType: ThrottlingException`` and the body
``{"__type":"ThrottlingException","message":"Rate exceeded"}``. It never checks signatures: it
exists to measure clients, not the service.

    python3 bench/endpoint.py [--rate R] [--burst B] [--secret-file FILE]

prints the port on the first line of stdout and serves until its standard input closes.
``GET /__stats`` returns the counters as JSON and ``POST /__reset`` zeroes them (and refills the
bucket); neither is counted. A rate of 0 means no throttling.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:short-cut/prod/app-AbCdEf"


class Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` stored (and at start)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.reset()

    def reset(self) -> None:
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Endpoint:
    def __init__(self, secret: str, bucket: Bucket) -> None:
        self.bucket = bucket
        self.ok_body = json.dumps(
            {
                "ARN": ARN,
                "Name": "short-cut/prod/app",
                "VersionId": str(uuid.UUID(int=7)),
                "SecretString": secret,
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1764072000.0,
            }
        ).encode()
        self.throttle_body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        self.reset()

    def reset(self) -> None:
        self.bucket.reset()
        self.calls = 0
        self.throttled = 0
        self.connections = 0
        self.first_call = None
        self.last_call = None

    def stats(self) -> bytes:
        return json.dumps(
            {
                "calls": self.calls,
                "throttled": self.throttled,
                "ok": self.calls - self.throttled,
                "connections": self.connections,
                "first_call": self.first_call,
                "last_call": self.last_call,
            }
        ).encode()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counted = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                status, extra, body = "200 OK", b"", b""
                if path == "/__stats":
                    body = self.stats()
                elif path == "/__reset":
                    self.reset()
                    body = b"{}"
                elif method == "POST":
                    if not counted:
                        self.connections += 1
                        counted = True
                    self.calls += 1
                    now = time.time()
                    self.first_call = self.first_call or now
                    self.last_call = now
                    if self.bucket.take():
                        body = self.ok_body
                    else:
                        self.throttled += 1
                        status = "400 Bad Request"
                        extra = b"x-amzn-ErrorType: ThrottlingException\r\n"
                        body = self.throttle_body
                else:
                    status, body = "404 Not Found", b"{}"
                writer.write(
                    f"HTTP/1.1 {status}\r\n".encode()
                    + b"Content-Type: application/x-amz-json-1.1\r\n"
                    + extra
                    + b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=0.0, help="tokens per second (0: none)")
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default: rate)")
    parser.add_argument("--secret-file", help="the SecretString (default: bench/secret.json)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    secret_file = args.secret_file or __file__.rsplit("/", 1)[0] + "/secret.json"
    with open(secret_file, encoding="utf-8") as f:
        secret = f.read()
    burst = args.burst if args.burst is not None else args.rate
    endpoint = Endpoint(secret, Bucket(args.rate, burst))
    server = await asyncio.start_server(endpoint.serve, "127.0.0.1", args.port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
