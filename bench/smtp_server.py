"""A real SMTP server in its own process, so the benchmark's SMTP work does not share the measuring event loop.

Every accepted message is appended to a JSON-lines file at once (arrival time, recipients, subject), which is how
the benchmark counts mails and times their arrival.

    python -m bench.smtp_server --port P --log FILE [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import time
from email import message_from_bytes, policy
from typing import IO, Any

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, log: IO[str], latency: float) -> None:
        self.log = log
        self.latency = latency

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        if self.latency:
            await asyncio.sleep(self.latency)  # a slow relay: the point of the scaling measurement
        arrived = time.time()
        headers = message_from_bytes(envelope.content, policy=policy.default)
        line = {"t": arrived, "rcpt": list(envelope.rcpt_tos), "subject": str(headers.get("Subject", "")).strip()}
        self.log.write(json.dumps(line) + "\n")
        self.log.flush()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(args.log, "a", encoding="utf-8") as log:
        controller = Controller(Recorder(log, args.latency_ms / 1000), hostname="127.0.0.1", port=args.port)
        controller.start()
        try:
            stop.wait()
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
