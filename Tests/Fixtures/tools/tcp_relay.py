#!/usr/bin/env python3
# A plain TCP relay for tests: LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT. Prints "ready" once
# listening; exits when its stdin closes (so a test that dies takes it along).
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    listen_addr, listen_port, target_addr, target_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(target_addr, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, listen_addr, listen_port)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
