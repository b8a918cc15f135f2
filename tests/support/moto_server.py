"""Runs moto's Secrets Manager emulator on a free loopback port for the integration tests.

Prints the port on the first line of stdout, then serves until its standard input closes, which
happens when the test process that started it exits, however it exits: no server outlives its
tests.
"""

import logging
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> None:
    # One log line per request is noise for the tests (and the harness only drains it).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
