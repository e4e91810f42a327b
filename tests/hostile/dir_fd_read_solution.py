"""dot opens the repository's reference solution relative to a folder descriptor
(``os.open(name, dir_fd=fd)``). Python's audit hook sees only the relative name, so it
cannot tell where that is: only the kernel can keep the file out of reach. In a private
mount namespace the repository is simply not there."""
import os


def dot(a, b):
    root = os.open("/", os.O_RDONLY)
    fd = os.open("__REPO__/solutions/vectors.py".lstrip("/"), os.O_RDONLY, dir_fd=root)
    source = os.read(fd, 1 << 20).decode()
    namespace = {}
    exec(compile(source, "reference", "exec"), namespace)
    return namespace["dot"](a, b)
