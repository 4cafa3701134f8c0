"""A TCP proxy a test can cut: every connection through it dies at once, and it stops listening."""

from __future__ import annotations

import socket
import threading


class CuttableProxy:
    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.server = socket.create_server((host, listen_port), reuse_port=False)
        self.server.settimeout(0.2)
        self.sockets: list[socket.socket] = []
        self.forwarded = 0  # bytes client -> broker
        self.cut_event = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.cut_event.is_set():
            try:
                client, _ = self.server.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while not self.cut_event.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if outbound:
                    self.forwarded += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """The network goes away: every open connection is reset, and new ones are refused."""
        self.cut_event.set()
        self.server.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                except OSError:
                    pass
