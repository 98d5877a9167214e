"""Real TLS between two memory BIOs (Python's ssl module, that is OpenSSL):
no network, no root. Every byte either side sends is handed to a callback
as it crosses, and the client writes an NSS key log. Shared by the TLS
decryption fuzz seeds (tests/fuzz/seeds.py) and the TLS capture of the
benchmark (bench/tls_capture.py); stdlib only."""
import ssl
import subprocess


def self_signed(key, cert, cn, days=2):
    """An RSA 2048 key and a self-signed certificate for CN=cn valid for
    days, by openssl; the CompletedProcess."""
    return subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", key, "-out", cert, "-days", str(days), "-subj", f"/CN={cn}"],
                          capture_output=True)


def contexts(cert, key, keylog):
    """(client, server) contexts: the server with cert and key, the client
    trusting anything and logging its secrets to keylog."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = keylog
    return cctx, sctx


class Pair:
    """A client (.c) and a server (.s) joined by memory BIOs; pump() moves
    what each wrote to the other, calling on_bytes(direction, data) first
    (0: client to server, 1: server to client)."""

    def __init__(self, cctx, sctx, on_bytes):
        self.bio = [ssl.MemoryBIO() for _ in range(4)]  # client in/out, server in/out
        self.c = cctx.wrap_bio(self.bio[0], self.bio[1])
        self.s = sctx.wrap_bio(self.bio[2], self.bio[3], server_side=True)
        self.on_bytes = on_bytes

    def pump(self):
        for src, dst, d in ((self.bio[1], self.bio[2], 0), (self.bio[3], self.bio[0], 1)):
            data = src.read()
            if data:
                self.on_bytes(d, data)
                dst.write(data)

    def handshake(self, rounds):
        """rounds turns of both sides' handshake step, each followed by a pump."""
        for _ in range(rounds):
            for side in (self.c, self.s):
                try:
                    side.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            self.pump()
