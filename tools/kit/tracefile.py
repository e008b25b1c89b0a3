"""Read an aiotp trace (versions 1-3, spec/trace-format.md) into events.

Lenient on purpose (the checker is the strict reader): the kit uses it to evaluate a
scenario's expectations and to draw the viewer. ``# kit ...`` comments become ``kit``
events (the drivers' peer actions and steps)."""
import re

_FIELD = re.compile(r"^([a-z_]+)=(.*)$")


class Event:
    __slots__ = ("lineno", "text", "tid", "ev", "name", "args", "fields", "iter", "depth",
                 "parent", "index", "opener")

    def __init__(self, lineno, text):
        self.lineno = lineno
        self.text = text
        self.tid = None      # "t3", "loop" or None
        self.ev = None       # header iter open limits peer cb ret call query exc kit comment
        self.name = None     # callback / call / query name
        self.args = []       # positional words after the name
        self.fields = {}     # key=value words
        self.iter = None     # the pass it happened in
        self.depth = 0       # cb/call nesting depth at this line
        self.parent = None   # index of the enclosing cb/call event
        self.index = 0
        self.opener = None   # for a ret: index of the cb/call it closes

    def value(self):
        """The first positional word (the result of a ret, the value of a query)."""
        return self.args[0] if self.args else None

    def __repr__(self):
        return "<%d %s>" % (self.lineno, self.text)


def parse_lines(lines):
    events = []
    it = None
    stack = []
    header = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        e = Event(lineno, line)
        e.iter = it
        e.index = len(events)
        w = line.split(" ")
        if not line.strip():
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            if body.startswith("kit "):
                e.ev = "kit"
                parts = body[4:].split(" ")
                e.name = parts[0]
                _split_args(e, parts[1:])
            else:
                e.ev = "comment"
        elif w[0] == "aiotp-trace":
            e.ev = "header"
            header = line
            it = None
            stack = []
            e.fields = dict(x.split("=", 1) for x in w[2:] if "=" in x)
            e.args = w[1:2]
        elif w[0] == "iter" and len(w) == 2:
            e.ev = "iter"
            try:
                it = int(w[1])
            except ValueError:
                it = None
            e.iter = it
        elif len(w) >= 2 and (w[0] == "loop" or (w[0][:1] == "t" and w[0][1:].isdigit())):
            e.tid = w[0]
            e.ev = w[1]
            rest = w[2:]
            if e.ev in ("cb", "ret", "call", "query") and rest:
                e.name = rest[0]
                rest = rest[1:]
            if e.ev == "exc":
                # status=ST then the message (the rest of the line)
                if rest and rest[0].startswith("status="):
                    e.fields["status"] = rest[0][7:]
                    rest = rest[1:]
                e.fields["message"] = " ".join(rest)
                rest = []
            _split_args(e, rest)
        else:
            e.ev = "unknown"
        e.depth = len(stack)
        e.parent = stack[-1] if stack else None
        if e.ev in ("cb", "call"):
            stack.append(e.index)
        elif e.ev == "ret" and stack:
            e.opener = stack.pop()
            e.depth = len(stack)
        events.append(e)
    return header, events


def _split_args(e, words):
    for x in words:
        m = _FIELD.match(x)
        if m and not e.args:
            e.fields[m.group(1)] = m.group(2)
        elif m:
            e.fields[m.group(1)] = m.group(2)
        else:
            e.args.append(x)


def parse_file(path):
    with open(path, "r", errors="replace") as f:
        return parse_lines(f)


def callbacks(events, tid):
    """The protocol callbacks of one transport as (name, primary value, cb event, ret event)."""
    out = []
    for e in events:
        if e.tid == tid and e.ev == "ret" and e.opener is not None:
            cb = events[e.opener]
            if cb.ev == "cb" and cb.name == e.name:
                out.append((e.name, primary(cb, e), cb, e))
    out.sort(key=lambda x: x[2].index)  # in the order the callbacks were entered
    return out


def primary(cb, ret):
    n = cb.name
    if n == "connection_lost":
        return cb.fields.get("status")
    if n in ("data_received", "buffer_updated", "datagram_received", "pipe_data_received"):
        return cb.fields.get("n")
    if n == "error_received":
        return cb.fields.get("status")
    if n == "get_buffer":
        v = ret.value()
        return ret.fields.get("len") if v == "0" else v
    if n == "pipe_connection_lost":
        return "%s,%s" % (cb.fields.get("fd"), cb.fields.get("status"))
    return ret.value()


def calls(events, tid, name=None):
    """Transport calls of one transport as (call event, ret event)."""
    out = []
    for e in events:
        if e.tid == tid and e.ev == "ret" and e.opener is not None:
            c = events[e.opener]
            if c.ev == "call" and c.name == e.name and (name is None or c.name == name):
                out.append((c, e))
    out.sort(key=lambda x: x[0].index)
    return out
