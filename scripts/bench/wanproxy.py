#!/usr/bin/env python3
"""A TCP proxy that behaves like a WAN link: every chunk is delivered DELAY seconds after it arrived,
in each direction (so a round trip costs 2 x DELAY), and round trips are counted per connection.

usage: wanproxy.py LISTEN_ADDR TARGET_ADDR TARGET_PORT [--delay-ms 25] [--trace]
       (standalone: prints its port, then a line per closed connection; --trace adds every chunk:
        milliseconds since connect, direction, bytes, round trips so far)

The kernel here has no netem, hence a proxy. Chunks are not serialised behind each other's delay:
each is scheduled DELAY after its own arrival, in order, so bandwidth is not limited, only latency.
A "round trip" is a change of direction client->server->client: counted each time data arrives from
the server after the last data seen on the connection came from the client.
Caveat: it is a split TCP connection, so TCP's own ACKs are not delayed (a real WAN delays them too).
"""
import argparse
import asyncio
import socket
import threading
import time

CHUNK = 256 * 1024


class ConnectionStats:
    def __init__(self, ident, trace=False):
        self.ident = ident
        self.trace = [] if trace else None
        self.opened = time.monotonic()
        self.closed = None
        self.round_trips = 0
        self.bytes_up = 0      # client -> server
        self.bytes_down = 0    # server -> client
        self.chunks_up = 0
        self.chunks_down = 0
        self.last = None       # "up" or "down"

    def note(self, direction, size):
        if self.trace is not None:
            self.trace.append((time.monotonic() - self.opened, direction, size))
        if direction == "up":
            self.bytes_up += size
            self.chunks_up += 1
        else:
            self.bytes_down += size
            self.chunks_down += 1
            if self.last == "up":
                self.round_trips += 1
        self.last = direction


class WanProxy:
    """Runs in its own thread with its own event loop; `connections` grows as clients connect."""

    def __init__(self, listen_addr, target_addr, target_port, delay=0.025, trace=False):
        self.trace = trace
        self.listen_addr, self.target_addr, self.target_port = listen_addr, target_addr, target_port
        self.delay = delay
        self.connections = []
        self.lock = threading.Lock()
        self.port = None
        self._loop = None
        self._thread = None
        self._ready = threading.Event()
        self._stop = None

    # -- thread side -------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name="wanproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.port is None:
            raise RuntimeError("wanproxy: did not start")
        return self

    def stop(self):
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def snapshot(self):
        with self.lock:
            return len(self.connections)

    def since(self, mark):
        """Stats of the connections opened after snapshot() returned `mark`."""
        with self.lock:
            return list(self.connections[mark:])

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self):
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, self.listen_addr, 0, backlog=256)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    # -- per connection ----------------------------------------------------------------------------
    async def _handle(self, client_reader, client_writer):
        with self.lock:
            stats = ConnectionStats(len(self.connections), self.trace)
            self.connections.append(stats)
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_addr, self.target_port)
        except OSError:
            client_writer.close()
            stats.closed = time.monotonic()
            return
        for writer in (client_writer, server_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:  # asyncio sets it already; be explicit: the proxy adds no Nagle delay
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            self._pump(client_reader, server_writer, "up", stats),
            self._pump(server_reader, client_writer, "down", stats),
            return_exceptions=True,
        )
        for writer in (client_writer, server_writer):
            writer.close()
        stats.closed = time.monotonic()

    async def _pump(self, reader, writer, direction, stats):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    try:
                        if writer.can_write_eof():
                            writer.write_eof()
                    except OSError:
                        pass
                    return
                writer.write(data)
                await writer.drain()

        delivery = asyncio.ensure_future(deliver())
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    data = b""
                now = loop.time()
                if data:
                    stats.note(direction, len(data))
                queue.put_nowait((now + self.delay, data or None))
                if not data:
                    break
            await delivery
        except (OSError, asyncio.CancelledError):
            delivery.cancel()
            writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listen_addr")
    parser.add_argument("target_addr")
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=25.0)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    proxy = WanProxy(args.listen_addr, args.target_addr, args.target_port, args.delay_ms / 1000,
                     args.trace).start()
    print(proxy.port, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            for stats in proxy.since(seen):
                if stats.closed is not None:
                    print(f"connection {stats.ident}: {stats.round_trips} round trips, "
                          f"{stats.bytes_up} B up / {stats.bytes_down} B down, "
                          f"{(stats.closed - stats.opened) * 1000:.0f} ms", flush=True)
                    round_trips, last = 0, None
                    for offset, direction, size in stats.trace or []:
                        if direction == "down" and last == "up":
                            round_trips += 1
                        last = direction
                        arrow = "client -> server" if direction == "up" else "server -> client"
                        print(f"  {offset * 1000:8.1f} ms  {arrow}  {size:6d} B  (round trip {round_trips})",
                              flush=True)
                    seen = stats.ident + 1
                else:
                    break
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    main()
