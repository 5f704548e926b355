"""Drives pond's MCP server with the official MCP Python SDK (`mcp` on PyPI).

Used by tests/integration/mcp.rs. Connects over stdio (`--stdio POND ARGS...`)
or streamable HTTP (`--http URL --token T`), lists the tools, then makes each
call given in the JSON file `--calls` ([{"tool": name, "arguments": {...}}])
and prints one JSON object: the tools with their input schemas, and per call
the text the server answered and whether it was an error.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def drive(session, calls):
    await session.initialize()
    listed = await session.list_tools()
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema}
        for t in listed.tools
    ]
    results = []
    for call in calls:
        # Steps between calls: run a command (a sync while the server is
        # up), or wait (longer than the server's look for a new store).
        if "run" in call:
            done = subprocess.run(call["run"], env=dict(os.environ), capture_output=True)
            results.append({"run": call["run"][1:], "status": done.returncode})
            continue
        if "sleep" in call:
            await asyncio.sleep(call["sleep"])
            results.append({"sleep": call["sleep"]})
            continue
        result = await session.call_tool(call["tool"], call.get("arguments") or {})
        texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
        results.append(
            {"tool": call["tool"], "is_error": bool(result.is_error), "text": "".join(texts)}
        )
    return {"tools": tools, "results": results}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", required=True)
    parser.add_argument("--http")
    parser.add_argument("--token")
    parser.add_argument("--stdio", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    with open(args.calls) as f:
        calls = json.load(f)

    if args.http:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        http = create_mcp_http_client(headers=headers)
        async with streamable_http_client(args.http, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                out = await drive(session, calls)
        await http.aclose()
    else:
        command, *rest = args.stdio
        # The SDK passes only a few variables by default; pond needs its own.
        params = StdioServerParameters(command=command, args=rest, env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await drive(session, calls)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
