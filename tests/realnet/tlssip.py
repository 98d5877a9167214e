#!/usr/bin/env python3
"""A SIP user agent pair over TCP or TLS (Python's ssl module, that is
OpenSSL's libssl) for the TLS decryption test: `uas` answers INVITEs (200
with SDP, or 486 for callee "busy..."), BYEs and OPTIONS; `uac` opens
connections and places calls on each, one after the other: INVITE, final
response, ACK, and BYE after an answer. With --keylog the TLS secrets go to
an NSS key log (keylog_filename, the SSLKEYLOGFILE format); --resume opens
every connection after the first with the first's session (a ticket, or
the session ID when the server issues no tickets). Prints one JSON line per
call to stdout (Call-ID and final status) so that the test knows the truth.

Usage: tlssip.py uas --listen ADDR:PORT [--tls CERT KEY] [--tls12|--tls13] [--ciphers C]
                 [--no-tickets] [--keylog F] [--ring-ms MS]
       tlssip.py uac --connect ADDR:PORT [--tls] [--keylog F] [--tls12|--tls13]
                 [--ciphers C] [--no-etm] [--conns N] [--calls N] [--resume]
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time
import uuid

SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19


def read_msg(f):
    """One SIP message from a buffered stream (Content-Length framing), or None."""
    head = b""
    while True:
        line = f.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n") and not head:
            continue  # keep-alive
        head += line
        if line in (b"\r\n", b"\n"):
            break
    clen = 0
    for h in head.decode().split("\r\n"):
        if h.lower().startswith(("content-length:", "l:")):
            clen = int(h.split(":", 1)[1])
    body = f.read(clen) if clen else b""
    return head + body


def headers(msg):
    """(start line, {name: first value}); every Via and Record-Route value,
    in order, under "via*" and "record-route*" (a response copies them:
    RFC 3261 8.2.6.2 and 12.1.1, for requests that came through proxies)."""
    lines = msg.decode().split("\r\n")
    out = {"via*": [], "record-route*": []}
    for h in lines[1:]:
        if not h:
            break
        k, _, v = h.partition(":")
        k = k.strip().lower()
        out.setdefault(k, v.strip())
        if k + "*" in out:
            out[k + "*"].append(v.strip())
    return lines[0], out


def response(req_hdrs, code, reason, local, body=b"", to_tag=None, tp="tcp"):
    to = req_hdrs["to"] + (f";tag={to_tag}" if to_tag and "tag=" not in req_hdrs["to"] else "")
    vias = "".join(f"Via: {v}\r\n" for v in req_hdrs.get("via*") or [req_hdrs["via"]])
    extra = ""
    if code > 100 and req_hdrs["cseq"].endswith("INVITE"):
        extra = "".join(f"Record-Route: {v}\r\n" for v in req_hdrs.get("record-route*", []))
    if body:
        extra += (f"Contact: <sip:uas@{local};transport={tp}>\r\n"
                  "Content-Type: application/sdp\r\n")
    return (f"SIP/2.0 {code} {reason}\r\n{vias}From: {req_hdrs['from']}\r\n"
            f"To: {to}\r\nCall-ID: {req_hdrs['call-id']}\r\nCSeq: {req_hdrs['cseq']}\r\n"
            f"Server: tlssip-uas\r\n{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


def sdp(addr, port):
    return (f"v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").encode()


def serve_conn(conn, local, tp, ring_s):
    f = conn.makefile("rb")
    try:
        while True:
            msg = read_msg(f)
            if msg is None:
                return
            start, h = headers(msg)
            method = start.split(" ", 1)[0]
            tag = uuid.uuid4().hex[:8]
            if method == "INVITE":
                conn.sendall(response(h, 100, "Trying", local, tp=tp))
                if "sip:busy" in start:
                    conn.sendall(response(h, 486, "Busy Here", local, to_tag=tag, tp=tp))
                else:
                    conn.sendall(response(h, 180, "Ringing", local, to_tag=tag, tp=tp))
                    time.sleep(ring_s)
                    conn.sendall(response(h, 200, "OK", local, sdp(local.split(":")[0], 40000),
                                          to_tag=tag, tp=tp))
            elif method in ("BYE", "OPTIONS"):
                conn.sendall(response(h, 200, "OK", local, to_tag=tag, tp=tp))
    except (OSError, ssl.SSLError):
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def uas(a):
    host, port = a.listen.rsplit(":", 1)
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        if a.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if a.ciphers:
            ctx.set_ciphers(a.ciphers)
        if a.no_tickets:
            ctx.options |= ssl.OP_NO_TICKET
        if a.tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if a.keylog:
            ctx.keylog_filename = a.keylog
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        if ctx:
            try:
                c = ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                c.close()
                continue
        threading.Thread(target=serve_conn, args=(c, a.listen, "tls" if ctx else "tcp",
                                                       a.ring_ms / 1000),
                         daemon=True).start()


def uac(a):
    host, port = a.connect.rsplit(":", 1)
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if a.keylog:
            ctx.keylog_filename = a.keylog
        if a.tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if a.tls13:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if a.ciphers:
            ctx.set_ciphers(a.ciphers)
        if a.no_etm:
            ctx.options |= SSL_OP_NO_ENCRYPT_THEN_MAC
    session = None
    n = 0
    for ci in range(a.conns):
        s = socket.create_connection((host, int(port)), timeout=10)
        local = "%s:%d" % s.getsockname()
        if ctx:
            s = ctx.wrap_socket(s, session=session if a.resume else None)
            info = {"conn": ci, "version": s.version(), "cipher": s.cipher()[0],
                    "resumed": s.session_reused}
            print(json.dumps(info), flush=True)
        f = s.makefile("rb")
        for k in range(a.calls):
            n += 1
            callee = "busy%d" % n if n % 4 == 0 else "user%d" % n
            cid = uuid.uuid4().hex + "@tlssip"
            tag = uuid.uuid4().hex[:8]
            tp = "TLS" if ctx else "TCP"
            ruri = f"sip:{callee}@{a.connect}"
            via = f"SIP/2.0/{tp} {local};branch=z9hG4bK{uuid.uuid4().hex[:12]}"
            body = sdp(local.split(":")[0], 30000 + 2 * n)
            inv = (f"INVITE {ruri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
                   f"From: <sip:caller@{local}>;tag={tag}\r\nTo: <{ruri}>\r\nCall-ID: {cid}\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:caller@{local};transport={tp.lower()}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            s.sendall(inv)
            final, to = None, None
            while final is None:
                msg = read_msg(f)
                start, h = headers(msg)
                code = int(start.split(" ")[1])
                if code >= 200:
                    final, to = code, h["to"]
            ack_via = via if final >= 300 else f"SIP/2.0/{tp} {local};branch=z9hG4bK{uuid.uuid4().hex[:12]}"
            s.sendall((f"ACK {ruri} SIP/2.0\r\nVia: {ack_via}\r\nMax-Forwards: 70\r\n"
                       f"From: <sip:caller@{local}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\n"
                       f"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode())
            if final == 200:
                s.sendall((f"BYE {ruri} SIP/2.0\r\nVia: SIP/2.0/{tp} {local};branch=z9hG4bK"
                           f"{uuid.uuid4().hex[:12]}\r\nMax-Forwards: 70\r\n"
                           f"From: <sip:caller@{local}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\n"
                           f"CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n").encode())
                start, h = headers(read_msg(f))
            print(json.dumps({"call_id": cid, "final": final}), flush=True)
        if ctx and session is None:
            session = s.session
        try:
            if ctx:
                s = s.unwrap()
        except (OSError, ssl.SSLError):
            pass
        s.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("uas")
    u.add_argument("--listen", required=True)
    u.add_argument("--tls", nargs=2)
    u.add_argument("--tls12", action="store_true")
    u.add_argument("--ciphers")
    u.add_argument("--no-tickets", action="store_true")
    u.add_argument("--tls13", action="store_true")
    u.add_argument("--keylog")
    u.add_argument("--ring-ms", type=int, default=0, help="between 180 and 200")
    c = sub.add_parser("uac")
    c.add_argument("--connect", required=True)
    c.add_argument("--tls", action="store_true")
    c.add_argument("--keylog")
    c.add_argument("--tls12", action="store_true")
    c.add_argument("--tls13", action="store_true")
    c.add_argument("--ciphers")
    c.add_argument("--no-etm", action="store_true")
    c.add_argument("--conns", type=int, default=1)
    c.add_argument("--calls", type=int, default=4)
    c.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    (uas if a.cmd == "uas" else uac)(a)


if __name__ == "__main__":
    sys.exit(main())
