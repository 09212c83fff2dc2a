"""The baseline of the RPC benchmarks: a bare "hello" ASGI app on Pigeon's server stack.

A minimal Starlette app answering ``GET|POST /`` with a small constant JSON body, served by
``uvicorn.run`` with the options ``pigeon serve`` passes (loop and HTTP implementation left to
uvicorn's ``auto`` choice, access log off, one process unless ``--workers``) — but uvicorn's own
httptools protocol,
not Pigeon's with its connection limits (src/pigeon/http_protocol.py): whatever the benchmark
measures beyond this app is Pigeon's own cost, those limits included.

    python bench/hello_app.py --host 127.0.0.1 --port 8081
    python bench/hello_app.py --port 8081 --workers 2    # uvicorn's worker processes

``--workers N`` runs beside ``send_sms.py --processes 1,N`` (bench/scaling.py): what the bare
stack's worker processes gain on this machine, beside the load generator on the same cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The same shape as a Pigeon answer, so the benchmark's "Code OK" check applies to both.
BODY = {"RequestId": "00000000-0000-0000-0000-000000000000", "Code": "OK", "Message": "OK"}


async def hello(_request: Request) -> JSONResponse:
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (1: the app in this process)")
    args = parser.parse_args()
    options = {"host": args.host, "port": args.port, "log_level": args.log_level,
               "access_log": False, "proxy_headers": False}
    # The options of src/pigeon/serving.py server_options: uvicorn.run(app, host, port,
    # log_level, access_log=False, proxy_headers=False)
    if args.workers > 1:  # uvicorn imports the app in each worker: by name
        uvicorn.run("hello_app:app", app_dir=str(Path(__file__).parent), workers=args.workers,
                    **options)
    else:
        uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
