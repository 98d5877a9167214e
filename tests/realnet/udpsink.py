#!/usr/bin/env python3
"""Receives and discards UDP on the media ports SIPp announces per call
([auto_media_port]: base + 4 * (call - 1)), so that media sent there by
rtpengine does not draw ICMP port unreachable (SIPp's play_pcap_audio sends
from these ports through a raw socket but never binds them; SIPp itself holds
the base port, its echo socket).
  udpsink.py ADDR BASE COUNT"""
import resource
import select
import socket
import sys


def main():
    addr, base, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 64)), hard))
    ep = select.epoll()
    socks = {}
    for k in range(1, count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((addr, base + 4 * k))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
        socks[s.fileno()] = s
    print(f"udpsink: {len(socks)} ports", flush=True)
    while True:
        for fd, _ in ep.poll():
            try:
                while True:
                    socks[fd].recv(2048)
            except BlockingIOError:
                pass


if __name__ == "__main__":
    main()
