"""dot never returns: a busy loop."""


def dot(a, b):
    while True:
        pass
