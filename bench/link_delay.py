#!/usr/bin/env python3
"""A TCP relay that delays every byte by a fixed time in each direction.

bench-lab.py --system-hosts uses it to give a simulated host's link the delay
of a distant hypervisor.  The kernel of the test VM has no netem (only tbf
and htb among the delaying and shaping qdiscs), so the delay is added here, in
user space, while tbf on the link's two veth ends limits the rate.  One relay
runs inside each host's network namespace; an iptables REDIRECT there sends
the ssh connections that arrive on the link (eth0, port 22) to it, and it
connects on to the host's own sshd.  The URIs, the host keys and the sshd
stay as the harness made them.

    link_delay.py --listen PORT --upstream ADDR:PORT --echo ADDR:PORT --delay S

Every chunk read on one side is written to the other side DELAY seconds
after it arrived, in order; a new connection first waits one round trip
(2 x DELAY, the TCP handshake the relay answered at once) before it is
connected on.  What is queued in one direction is bounded (--limit bytes):
beyond that the relay stops reading, so a slow reader holds back the writer
as a link would.  --echo ADDR:PORT also serves an echo through the same
delays (a round trip costs 2 x DELAY), which is how bench-lab.py confirms the
round-trip time: ICMP ping does not pass through a user-space relay.

It prints "ready" on stdout once it listens and runs until SIGTERM.
Python 3 standard library only.
"""

import argparse
import asyncio
import collections
import signal
import sys
import time


async def delayed_copy(reader, writer, delay, limit):
    """Copy reader to writer, each chunk DELAY s after it was read; half-close
    the writer at EOF.  At most LIMIT bytes wait in the queue."""
    queue = collections.deque()
    queued = 0
    more = asyncio.Event()   # something was queued
    room = asyncio.Event()   # the queue went below LIMIT
    room.set()

    async def produce():
        nonlocal queued
        while True:
            await room.wait()
            data = await reader.read(256 * 1024)
            queue.append((time.monotonic() + delay, data))
            queued += len(data)
            if queued >= limit:
                room.clear()
            more.set()
            if not data:
                return

    async def consume():
        nonlocal queued
        while True:
            while not queue:
                more.clear()
                await more.wait()
            due, data = queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            queued -= len(data)
            if queued < limit:
                room.set()

    producer = asyncio.ensure_future(produce())
    try:
        await consume()
    finally:
        producer.cancel()


async def relay(client_r, client_w, upstream, delay, limit):
    try:
        await asyncio.sleep(2 * delay)
        host, port = upstream
        up_r, up_w = await asyncio.open_connection(host, port)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(delayed_copy(client_r, up_w, delay, limit),
                             delayed_copy(up_r, client_w, delay, limit))
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        up_w.close()
        client_w.close()


async def echo(client_r, client_w, delay, limit):
    try:
        await delayed_copy(client_r, client_w, 2 * delay, limit)
    except OSError:
        pass
    finally:
        client_w.close()


def addr(text):
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)


async def serve(args):
    servers = [await asyncio.start_server(
        lambda r, w: relay(r, w, args.upstream, args.delay, args.limit),
        "0.0.0.0", args.listen)]
    if args.echo:
        servers.append(await asyncio.start_server(
            lambda r, w: echo(r, w, args.delay, args.limit), *args.echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for s in servers:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", type=int, required=True, help="port to listen on")
    ap.add_argument("--upstream", type=addr, required=True, help="ADDR:PORT to relay to")
    ap.add_argument("--echo", type=addr, help="ADDR:PORT of a delayed echo")
    ap.add_argument("--delay", type=float, required=True, help="seconds, each direction")
    ap.add_argument("--limit", type=int, default=4 << 20,
                    help="bytes queued per direction at most (default 4 MiB)")
    args = ap.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
