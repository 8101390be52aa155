import socket
import subprocess
import sys

import pytest


def test_guard_blocks_non_loopback_here():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(ConnectionRefusedError, match="network guard"):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: blocked before any packet leaves
    s.close()
    with pytest.raises(ConnectionRefusedError, match="DNS lookup"):
        socket.getaddrinfo("huggingface.co", 443)


def test_guard_allows_loopback():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=2)
    c.close()
    srv.close()


def test_guard_is_active_in_subprocesses():
    code = ("import socket; s=socket.socket()\n"
            "try:\n s.connect(('192.0.2.1', 80))\nexcept ConnectionRefusedError as e: print('blocked', e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "blocked" in out.stdout and "network guard" in out.stdout
