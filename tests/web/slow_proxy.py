"""A TCP proxy on loopback that drips what the upstream sends at RATE bytes per second.

    python3 slow_proxy.py UPSTREAM_PORT RATE

Prints the port it listens on, then serves until killed. The browser test routes one image's
pulls through it so that a scan is still running while the page shows its progress: a slow
registry is a fault a real registry does not produce on demand.
"""
import asyncio
import sys

UPSTREAM, RATE = int(sys.argv[1]), int(sys.argv[2])


async def pipe(reader, writer, rate):
    try:
        while True:
            data = await reader.read(min(16384, max(1024, rate // 20)) if rate else 65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            if rate:
                await asyncio.sleep(len(data) / rate)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, up_writer, 0), pipe(up_reader, client_writer, RATE))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
