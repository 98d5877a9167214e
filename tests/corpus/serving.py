"""`trunkscope serve` over a database, for the tests that read the API: a
free loopback port, the server started, its first answer awaited, the
server stopped on leaving (stdlib only)."""
import json
import socket
import subprocess
import time
import urllib.request


def free_port():
    """A loopback TCP port nobody listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Serve:
    """with Serve(binary, db) as srv: srv.get("/api/v1/trunks"). Leaving
    terminates the server and waits up to stop_timeout seconds for it."""

    def __init__(self, binary, db, stop_timeout=10):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stop_timeout = stop_timeout
        self.proc = subprocess.Popen([binary, "serve", "--db", db, "--http",
                                      f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=self.stop_timeout)

    def get(self, path, timeout=10):
        """The JSON body of GET path; HTTPError (an OSError) on a 4xx/5xx."""
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return json.load(r)

    def wait(self, path, tries=100, step=0.1):
        """get(path) once the server answers it (tries times, step seconds
        apart), or None."""
        for _ in range(tries):
            try:
                return self.get(path, timeout=5)
            except OSError:
                time.sleep(step)
        return None
