#!/usr/bin/env python3
"""Regenerates ../commands.json: the COMMAND INFO and COMMAND DOCS replies of a
real Redis 7 for the commands digby implements, so that COMMAND answers as Redis
does. Usage: redis-server --port 7777 & python3 gen.py 7777 > ../commands.json

Each reply is stored as a tagged tree: ["m", [k, v, ...]] map, ["a", [...]]
array, ["~", [...]] set, ["b", s] bulk, ["+", s] simple, ["i", n] integer."""
import json, socket, sys

SUPPORTED = {
    "ping": None, "echo": None, "quit": None, "reset": None, "hello": None, "auth": None, "select": None,
    "client": ["id", "setname", "getname", "setinfo", "list", "info", "kill", "no-evict", "no-touch", "help"],
    "get": None, "set": None, "setnx": None, "setex": None, "psetex": None, "getset": None, "getdel": None,
    "getex": None, "mget": None, "mset": None, "msetnx": None, "incr": None, "decr": None, "incrby": None,
    "decrby": None, "incrbyfloat": None, "append": None, "strlen": None, "getrange": None, "substr": None,
    "setrange": None, "lcs": None,
    "del": None, "unlink": None, "exists": None, "type": None, "keys": None, "scan": None, "randomkey": None,
    "rename": None, "renamenx": None, "copy": None, "move": None, "touch": None,
    "object": ["encoding", "freq", "idletime", "refcount", "help"], "dbsize": None, "flushdb": None,
    "flushall": None, "swapdb": None, "expire": None, "pexpire": None, "expireat": None, "pexpireat": None,
    "ttl": None, "pttl": None, "expiretime": None, "pexpiretime": None, "persist": None,
    "multi": None, "exec": None, "discard": None, "watch": None, "unwatch": None,
    "info": None, "config": ["get", "set", "resetstat", "help"], "command": ["count", "list", "info", "docs", "help"],
    "time": None, "lastsave": None, "save": None, "bgsave": None, "shutdown": None, "wait": None,
    "debug": None, "function": ["flush", "help"], "script": ["flush", "help"],
}

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()
    def read(self):
        line = self.f.readline()[:-2]
        t, rest = chr(line[0]), line[1:].decode()
        if t in "+-":
            return ["+", rest]
        if t == ":":
            return ["i", int(rest)]
        if t == "$":
            n = int(rest)
            data = self.f.read(n + 2)[:-2].decode()
            return ["b", data]
        if t in "*~":
            return ["a" if t == "*" else "~", [self.read() for _ in range(int(rest))]]
        if t == "%":
            items = []
            for _ in range(int(rest)):
                items.append(self.read())
                items.append(self.read())
            return ["m", items]
        if t == "_":
            return ["_", None]
        raise ValueError("unexpected reply type " + t)

def keep_subs(info_or_docs, subs, is_docs):
    """Drop subcommands digby does not implement."""
    if subs is None:
        return info_or_docs
    if is_docs:
        items = info_or_docs[1]
        for i in range(0, len(items), 2):
            if items[i][1] == "subcommands":
                sub = items[i + 1][1]
                kept = []
                for j in range(0, len(sub), 2):
                    if sub[j][1].split("|")[1] in subs:
                        kept += [sub[j], sub[j + 1]]
                items[i + 1][1] = kept
        return info_or_docs
    arr = info_or_docs[1]
    arr[9][1] = [s for s in arr[9][1] if s[1][0][1].split("|")[1] in subs]
    return info_or_docs

def main():
    c = Conn(int(sys.argv[1]))
    c.call("HELLO", "3")
    out = {}
    for name, subs in sorted(SUPPORTED.items()):
        info = c.call("COMMAND", "INFO", name)[1][0]
        docs = c.call("COMMAND", "DOCS", name)[1][1]
        out[name] = {"info": keep_subs(info, subs, False), "docs": keep_subs(docs, subs, True)}
    json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")

main()
