"""The host's ears for the escape suite: a socket of every kind the sandbox must not reach,
read after the run (whatever arrived is queued in the kernel by then)."""

from __future__ import annotations

import contextlib
import os
import socket

# (name, family, type, address) of each listener; addresses are filled in at start.
_IP = [("tcp4", socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
       ("io_uring", socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
       ("udp4", socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
       ("tcp6", socket.AF_INET6, socket.SOCK_STREAM, "::1"),
       ("udp6", socket.AF_INET6, socket.SOCK_DGRAM, "::1")]
_UNIX = [("stream", socket.SOCK_STREAM), ("seqpacket", socket.SOCK_SEQPACKET),
         ("dgram", socket.SOCK_DGRAM)]
_ABSTRACT = [("abstract_stream", socket.SOCK_STREAM), ("abstract_dgram", socket.SOCK_DGRAM)]
_ETH_P_ALL = 0x0003


class Listeners:
    """Every listener of one arena; ``ports``/``paths`` go into the probe's context."""

    def __init__(self, folder: str, token: str) -> None:
        self.sockets: dict[str, socket.socket] = {}
        self.ports: dict[str, int] = {}
        self.paths: dict[str, str] = {}
        for name, family, kind, host in _IP:
            with contextlib.suppress(OSError):  # no IPv6 here: its attempts cannot land
                s = socket.socket(family, kind)
                s.bind((host, 0))
                self._listen(name, s)
                self.ports[name] = s.getsockname()[1]
        for name, kind in _UNIX:
            path = os.path.join(folder, name)
            s = socket.socket(socket.AF_UNIX, kind)
            s.bind(path)
            self._listen(name, s)
            self.paths[name] = path
        for name, kind in _ABSTRACT:
            s = socket.socket(socket.AF_UNIX, kind)
            self.paths[name] = f"llmx-escape-{token}-{name}"
            s.bind("\0" + self.paths[name])
            self._listen(name, s)
        self.paths["bind_socket_outside"] = os.path.join(folder, "bound-by-sandbox")
        # Seeing raw ICMP and frames on lo needs root; without it those attempts fail anyway.
        with contextlib.suppress(OSError):
            self._add_raw("icmp", socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                                socket.IPPROTO_ICMP))
        with contextlib.suppress(OSError):
            frames = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
            frames.bind(("lo", 0))
            self._add_raw("packet", frames)

    def _listen(self, name: str, s: socket.socket) -> None:
        if s.type in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
            s.listen(16)
        s.setblocking(False)
        self.sockets[name] = s

    def _add_raw(self, name: str, s: socket.socket) -> None:
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setblocking(False)
        self.sockets[name] = s

    def collect(self) -> dict[str, list[bytes]]:
        """What reached each listener; ``dgram_fds`` counts descriptors that came along."""
        received: dict[str, list[bytes]] = {name: [] for name in self.sockets}
        received["dgram_fds"] = []
        for name, s in self.sockets.items():
            if s.type in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
                received[name] = self._accept_all(s)
                continue
            while True:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(s, 65536, 16)
                except (BlockingIOError, InterruptedError):
                    break
                received[name].append(data)
                for fd in fds:
                    received["dgram_fds"].append(data)
                    os.close(fd)
        return received

    @staticmethod
    def _accept_all(s: socket.socket) -> list[bytes]:
        found = []
        while True:
            try:
                conn, _ = s.accept()
            except (BlockingIOError, InterruptedError):
                return found
            conn.settimeout(1)
            chunks = []
            with contextlib.suppress(OSError):
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                    if s.type == socket.SOCK_SEQPACKET:
                        break
            found.append(b"".join(chunks) or b"<connected>")
            conn.close()

    def close(self) -> None:
        for s in self.sockets.values():
            s.close()
        for path in self.paths.values():
            if path.startswith("/"):
                with contextlib.suppress(OSError):
                    os.unlink(path)
