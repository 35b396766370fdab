"""pipeline.py's whole path and figures, for Kannel (bearerbox + smsbox) instead of octogate.

The same SMSC simulator process (`octogate smsc-sim`, a receipt 1 s after each submit) behind the same SMPP tap;
one transceiver bind with max-pending-submits = --window (64). Kannel is configured as an operator would run it
in production: a durable message store (--store file, Kannel's default type, or spool: a file per message,
which on ext4 costs more run after run; `memory` for reference: no store-location),
internal DLR storage, log-level 2 (warning) in bearerbox.log and smsbox.log plus bearerbox's access-log (one
line per message sent and per receipt: the operator's trail). --messages single-recipient
`GET /cgi-bin/sendsms` requests (to, text, dlr-mask 19: delivered, undelivered, rejected; dlr-url on
pipeline's keep-alive receiver) go from --concurrency connections, and a run ends when every receipt has been
pushed. CPU per message is summed over bearerbox and smsbox (bearerbox is started as smsbox's child, so
pipeline's process-tree accounting covers both).

    .venv/bin/python bench/kannel.py                     # 3 runs x 20,000 requests at 50 at once, file store
    .venv/bin/python bench/kannel.py --store spool       # a file per message
    .venv/bin/python bench/kannel.py --store memory      # Kannel without a message store, for reference
    .venv/bin/python bench/kannel.py --messages 2000     # a quick look

Needs Kannel (`apt-get install kannel`: bearerbox and smsbox on PATH); without it, says so and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_accounting import CpuMeter, process_tree
from end_to_end import free_port
from pipeline import (
    Load,
    TimedSet,
    add_run_arguments,
    measured_run,
    print_summary,
    smsc_and_receiver,
)

USER = "bench"
DLR_MASK = 1 | 2 | 16  # the final states: delivered, undelivered, rejected by the SMSC
STORES = ("file", "spool", "memory")


@dataclass(frozen=True)
class KannelPorts:
    admin: int
    smsbox: int
    sendsms: int


def kannel_config(folder: str, ports: KannelPorts, smsc_port: int, admin_password: str, user_password: str,
                  store: str, log_level: int, window: int) -> str:  # fmt: skip
    """kannel.conf for bearerbox and smsbox: one SMPP transceiver to the simulator (through the tap)."""
    stored = "" if store == "memory" else f'store-type = {store}\nstore-location = "{folder}/store"\n'
    return (
        f'group = core\nadmin-port = {ports.admin}\nadmin-password = "{admin_password}"\n'
        f'admin-allow-ip = "127.0.0.1"\nsmsbox-port = {ports.smsbox}\nbox-allow-ip = "127.0.0.1"\n'
        f'log-file = "{folder}/bearerbox.log"\nlog-level = {log_level}\naccess-log = "{folder}/access.log"\n'
        f"{stored}dlr-storage = internal\n\n"
        f"group = smsbox\nbearerbox-host = 127.0.0.1\nbearerbox-port = {ports.smsbox}\n"
        f'sendsms-port = {ports.sendsms}\nlog-file = "{folder}/smsbox.log"\nlog-level = {log_level}\n\n'
        f'group = sendsms-user\nusername = {USER}\npassword = "{user_password}"\n\n'
        f"group = smsc\nsmsc = smpp\nsmsc-id = bench\nhost = 127.0.0.1\nport = {smsc_port}\n"
        f'transceiver-mode = true\nsmsc-username = octogate\nsmsc-password = secret\nsystem-type = ""\n'
        f"max-pending-submits = {window}\n\n"
        f'group = sms-service\nkeyword = default\ntext = "no service here"\n'
    )  # fmt: skip


def sendsms_request(run: int, user_password: str, dlr_url: str) -> Callable[[int], bytes]:
    """The n-th request of a run: a keep-alive GET /cgi-bin/sendsms, as an application would send it."""
    fixed = urlencode({"username": USER, "password": user_password, "from": "Bench", "text": "Your code is 123456",
                       "dlr-mask": DLR_MASK, "dlr-url": dlr_url})  # fmt: skip

    def request(n: int) -> bytes:
        to = quote(f"+336{run:02d}{n:06d}")
        return f"GET /cgi-bin/sendsms?{fixed}&to={to} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    return request


class EveryPush(TimedSet):
    """Kannel fetches dlr-url with GET and end_to_end's receiver keys receipts by the fields of a POST body, so
    here every push counts as a receipt (compare the push and deliver_sm counts each run prints)."""

    def add(self, item: Any) -> None:
        super().add(len(self))


def start_kannel(config: str, ports: KannelPorts, folder: str) -> subprocess.Popen[bytes]:
    """bearerbox, then (once it listens for boxes) smsbox in the same process: bearerbox is smsbox's child, one
    tree to account. Console logging off (-v 4: panics only); the log files have what the operator keeps."""
    script = ('bearerbox -v 4 "$1" & for _ in $(seq 300); do (: </dev/tcp/127.0.0.1/$2) 2>/dev/null && break; '
              'sleep 0.1; done; exec smsbox -v 4 "$1"')  # fmt: skip
    with open(f"{folder}/console.log", "wb") as console:
        return subprocess.Popen(["bash", "-c", script, "kannel", config, str(ports.smsbox)], stdout=console,
                                stderr=subprocess.STDOUT, cwd=folder)  # fmt: skip


def admin_status(ports: KannelPorts, admin_password: str) -> str:
    url = f"http://127.0.0.1:{ports.admin}/status.txt?{urlencode({'password': admin_password})}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


async def wait_ready(ports: KannelPorts, admin_password: str, kannel: subprocess.Popen[bytes]) -> str:
    """Until smsbox is connected to bearerbox and the SMSC is online; bearerbox's status page."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and kannel.poll() is None:
        with contextlib.suppress(OSError):
            status = await asyncio.to_thread(admin_status, ports, admin_password)
            if "smsbox:" in status and "(online" in status:
                with contextlib.suppress(OSError):
                    await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", ports.sendsms)
                    return status
        await asyncio.sleep(0.2)
    raise SystemExit("Kannel did not start: see console.log, bearerbox.log and smsbox.log")


def stop_kannel(kannel: subprocess.Popen[bytes]) -> None:
    """SIGTERM to bearerbox and smsbox (by their ids), SIGKILL to whichever is still running 30 s later."""
    pids = process_tree(kannel.pid)  # smsbox, then bearerbox
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    with contextlib.suppress(subprocess.TimeoutExpired):
        kannel.wait(timeout=30)
    for pid in pids:
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    kannel.wait()


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def bench(args: argparse.Namespace, folder: str) -> None:
    async with smsc_and_receiver(folder, {**os.environ, "OCTOGATE_ADMIN": "off"}, args, EveryPush()) as (
        receiver, tap
    ):  # fmt: skip
        ports = KannelPorts(free_port(), free_port(), free_port())
        admin_password, user_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        config = Path(folder) / "kannel.conf"
        config.write_text(kannel_config(folder, ports, tap.port, admin_password, user_password, args.store,
                                        args.log_level, args.window))  # fmt: skip
        if args.store == "spool":
            (Path(folder) / "store").mkdir()
        kannel = start_kannel(str(config), ports, folder)
        try:
            status = await wait_ready(ports, admin_password, kannel)
            version = status.split("version `", 1)[1].split("'", 1)[0] if "version `" in status else "?"
            print(f"  Kannel {version}: smsbox and bearerbox pids {', '.join(map(str, process_tree(kannel.pid)))}")
            meter = CpuMeter(kannel.pid)
            dlr_url = f"http://127.0.0.1:{receiver.port}/receipt?type=%d&to=%p&id=%F"
            runs = []
            for run in range(args.runs):
                load = Load(ports.sendsms, sendsms_request(run, user_password, dlr_url), b"Accepted for delivery")
                pushes = receiver.pushes
                runs.append(await measured_run(load, receiver, tap, kannel.pid, meter, run, args))
                print(f"         {receiver.pushes - pushes} pushes; Kannel now: {queues(ports, admin_password)}")
        finally:
            stop_kannel(kannel)
    store = "no message store" if args.store == "memory" else f"store-type {args.store}"
    print_summary(f"Kannel {version} ({store}, log-level {args.log_level})", runs, args)


def queues(ports: KannelPorts, admin_password: str) -> str:
    """What bearerbox's status page says it still holds: the message store, the DLRs waiting for a receipt."""
    lines = admin_status(ports, admin_password).splitlines()
    store = next((line.split("store size")[1].strip() for line in lines if "store size" in line), "?")
    dlrs = next((line.split(":")[1].split("queued")[0].strip() for line in lines if "internal storage" in line), "?")
    return f"store size {store}, DLRs waiting {dlrs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--store", choices=STORES, default="file", help="Kannel's message store (file)")
    parser.add_argument("--log-level", type=int, default=2, help="bearerbox's and smsbox's (2: warning)")
    args = parser.parse_args()
    missing = [box for box in ("bearerbox", "smsbox") if shutil.which(box) is None]
    if missing:
        print(f"{' and '.join(missing)} not found: install Kannel (apt-get install kannel) to run this bench",
              file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    with tempfile.TemporaryDirectory(prefix="octogate-kannel-") as folder:
        asyncio.run(bench(args, folder))


if __name__ == "__main__":
    main()
