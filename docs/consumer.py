#!/usr/bin/python3
"""consumer.py -- a gap-free consumer of a vledger node's event topics (pyzmq).

Subscribes to the node's `events` PUB endpoint, proves the subscription is
live by waiting for a `sys.heartbeat`, fills the past with the `events.replay`
JSON-RPC call, then follows live messages. Each message has three frames:
topic, JSON body, 4-byte little-endian per-topic sequence number. A gap in a
topic's sequence, or a new `stream` (the node restarted), triggers a replay
from the last complete height, so nothing is missed and nothing is printed
twice. Prints one JSON object per line (the body plus its `topic`).

    /usr/bin/python3 docs/consumer.py --data DIR [--topic PREFIX]... [--from-block H] [--count N]
    /usr/bin/python3 docs/consumer.py --api tcp://127.0.0.1:P --events tcp://127.0.0.1:Q ...

Debian: apt-get install python3-zmq
"""
import argparse
import json
import os
import struct
import sys

import zmq


def rpc(sock, method, params, _ids=[0]):
    _ids[0] += 1
    sock.send_string(json.dumps({"jsonrpc": "2.0", "id": _ids[0], "method": method, "params": params}))
    if not sock.poll(10000):
        sys.exit("no answer from the node's API")
    reply = json.loads(sock.recv())
    if "error" in reply:
        sys.exit("node error: %s" % reply["error"]["message"])
    return reply["result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="node data directory (reads endpoints.json)")
    ap.add_argument("--api")
    ap.add_argument("--events")
    ap.add_argument("--topic", action="append", default=[])
    ap.add_argument("--from-block", type=int, default=0)
    ap.add_argument("--count", type=int, default=0, help="stop after N printed events")
    ap.add_argument("--idle-exit", type=float, default=0,
                    help="exit after this many seconds without a printed event")
    args = ap.parse_args()
    if args.data:
        with open(os.path.join(args.data, "endpoints.json")) as f:
            eps = json.load(f)
        args.api = args.api or eps["api"]
        args.events = args.events or eps["events"]
    if not args.api or not args.events:
        sys.exit("give --data DIR or both --api and --events")

    ctx = zmq.Context()
    api = ctx.socket(zmq.DEALER)
    api.connect(args.api)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    for t in args.topic or [""]:
        sub.setsockopt_string(zmq.SUBSCRIBE, t)
    sub.setsockopt_string(zmq.SUBSCRIBE, "sys.heartbeat")
    sub.connect(args.events)

    wanted = lambda topic: (any(topic.startswith(t) for t in args.topic) if args.topic
                            else not topic.startswith("sys."))
    printed = 0
    done_height = args.from_block - 1   # every event of blocks <= done_height was printed
    seqs = {}                           # topic -> last sequence number seen
    stream = None

    seen = set()                        # (topic, pos) printed above done_height

    def emit(topic, body):
        nonlocal printed
        pos = body.get("pos", {})
        key = (topic, pos.get("height"), pos.get("tx"), pos.get("event"))
        if not topic.startswith("sys."):
            if key in seen:
                return                          # already printed live before a replay
            seen.add(key)
        body = dict(body, topic=topic)
        print(json.dumps(body, sort_keys=True), flush=True)
        printed += 1
        if args.count and printed >= args.count:
            sys.exit(0)

    def replay():
        nonlocal done_height
        frm = done_height + 1
        while True:
            r = rpc(api, "events.replay", {"from_height": frm, "topics": args.topic})
            for ev in r["events"]:
                if wanted(ev["topic"]):
                    emit(ev["topic"], ev["body"])
            done_height = r["to_height"]
            seen.difference_update({k for k in seen if k[1] is not None and k[1] <= done_height})
            if not r["truncated"]:
                return
            frm = r["next_from_height"]

    # Handshake: the first heartbeat proves the subscription is live.
    while True:
        if not sub.poll(5000):
            sys.exit("no heartbeat from %s in 5 s" % args.events)
        topic, body, seq = sub.recv_multipart()
        if topic == b"sys.heartbeat":
            stream = json.loads(body)["stream"]
            seqs["sys.heartbeat"] = struct.unpack("<I", seq)[0]
            break
    replay()

    idle_ms = int(args.idle_exit * 1000) if args.idle_exit else None
    while True:
        if not sub.poll(idle_ms if idle_ms else 1000):
            if idle_ms:
                return
            continue
        frames = sub.recv_multipart()
        if len(frames) != 3 or len(frames[2]) != 4:
            continue
        topic = frames[0].decode()
        body = json.loads(frames[1])
        seq = struct.unpack("<I", frames[2])[0]
        gap = topic in seqs and seq != seqs[topic] + 1
        seqs[topic] = seq
        if body.get("stream") != stream:     # the node restarted: new sequences
            stream, seqs = body.get("stream"), {topic: seq}
            gap = True
        if gap:
            replay()                          # fills everything up to its marker
        if topic.startswith("sys.") or body["height"] <= done_height:
            if topic == "sys.heartbeat" and wanted(topic):
                emit(topic, body)
            continue
        if wanted(topic):
            emit(topic, body)


if __name__ == "__main__":
    main()
