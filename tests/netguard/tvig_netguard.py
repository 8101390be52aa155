"""Network guard for the test suite (and every subprocess / notebook kernel it starts).

Active when TVIG_NETGUARD=1: any socket connection to a non-loopback address raises before a
packet leaves the machine. tests/conftest.py puts this folder on PYTHONPATH.
"""
import os

ACTIVE = os.environ.get("TVIG_NETGUARD") == "1"
if ACTIVE:
    import ipaddress
    import socket

    class NetworkGuardError(ConnectionRefusedError):
        pass

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                ok = ipaddress.ip_address(host).is_loopback
            except ValueError:
                ok = host == "localhost"
            if not ok:
                raise NetworkGuardError(f"tvig test network guard: connection to {address!r} "
                                        "blocked (tests must not use the network)")

    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        _check(self, address)
        return _connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not str(host).startswith("127.") and host != "::1":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise NetworkGuardError(f"tvig test network guard: DNS lookup of {host!r} "
                                        "blocked (tests must not use the network)") from None
        return _getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
