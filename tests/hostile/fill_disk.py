"""dot writes one file as large as it can in its working folder, then tries the shared /tmp."""


def dot(a, b):
    chunk = b"x" * (1 << 20)
    try:
        with open("/tmp/__MARKER__.fill", "wb") as f:  # outside its working folder
            f.write(chunk)
    except OSError:
        pass
    with open("fill.bin", "wb") as f:
        while True:
            f.write(chunk)
            f.flush()
