"""dot tries to reach the network (to fetch answers, or to send the inputs somewhere)."""
import socket


def dot(a, b):
    socket.getaddrinfo("example.com", 443)
    with socket.create_connection(("127.0.0.1", 9), timeout=1):
        pass
    return 0.0
