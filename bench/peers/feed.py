"""The feeder of the peer comparison: sends a file of prepared HTTP requests, each once, over
``--connections`` keep-alive connections as fast as they are answered (closed loop), in a
process of its own, and checks every answer.

``bench/load_client.py`` does the same for Pigeon's signed paths, but it knows only a request
line without a body and an answer that holds ``"Code":"OK"``; the peers need requests with
bodies and headers (Jasmin's REST API takes JSON and Basic auth) and answer in their own
words (Kannel ``202 0: Accepted for delivery``, Jasmin ``200 Success "…"``).

Each line of ``--file`` is a JSON array ``[method, path, headers, body]``.  An answer counts as
accepted when its status is one of ``--status`` and its body contains ``--expect``.  Answers'
bodies are written to ``--answers`` (one JSON string a line, in request order) when given.
Prints one line ``FEED_JSON {...}``: accepted, bad answers (with the first), socket errors,
the wall-clock times of the first request sent and of the last answer, and its own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, (await reader.readexactly(length) if length else b"")
    body = b""
    while True:  # Twisted (Jasmin) answers chunked
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def run(host: str, port: int, requests: list[bytes], connections: int,
              statuses: set[int], expect: bytes) -> dict:
    answers: list[bytes | None] = [None] * len(requests)
    counter = iter(range(len(requests)))
    result = {"accepted": 0, "bad": 0, "errors": 0, "sample": "", "first_sent": 0.0,
              "last_answer": 0.0}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in counter:
                result["first_sent"] = result["first_sent"] or time.time()
                writer.write(requests[index])
                try:
                    status, body = await _read_answer(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result["errors"] += 1
                    result["sample"] = result["sample"] or f"socket error: {exc!r}"
                    return
                result["last_answer"] = time.time()
                answers[index] = body
                if status in statuses and expect in body:
                    result["accepted"] += 1
                else:
                    result["bad"] += 1
                    result["sample"] = result["sample"] or \
                        f"{status} {body.decode(errors='replace')[:300]}"
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    result["answers"] = answers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--status", default="200", help="accepted statuses, comma-separated")
    parser.add_argument("--expect", default="", help="text an accepted answer contains")
    parser.add_argument("--answers", help="write every answer's body here")
    args = parser.parse_args()
    requests = []
    with open(args.file, encoding="utf-8") as lines:
        for line in lines:
            method, path, headers, body = json.loads(line)
            data = body.encode("utf-8")
            head = f"{method} {path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                head += f"{name}: {value}\r\n"
            requests.append(head.encode("latin-1") + b"\r\n" + data)
    statuses = {int(s) for s in args.status.split(",")}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    work = run(args.host, args.port, requests, args.connections, statuses,
               args.expect.encode("utf-8"))
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    after = resource.getrusage(resource.RUSAGE_SELF)
    answers = result.pop("answers")
    if args.answers:
        with open(args.answers, "w", encoding="utf-8") as out:
            for body in answers:
                out.write(json.dumps((body or b"").decode("utf-8", "replace")) + "\n")
    result.update(requests=len(requests), answered=result["accepted"] + result["bad"],
                  cpu_s=round((after.ru_utime + after.ru_stime)
                              - (usage.ru_utime + usage.ru_stime), 3))
    print("FEED_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
