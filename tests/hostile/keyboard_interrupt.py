"""dot raises KeyboardInterrupt, as if Ctrl-C had been pressed."""


def dot(a, b):
    raise KeyboardInterrupt
