"""dot leaves files in the machine's shared temporary folders (/tmp, /var/tmp, /dev/shm,
/run/lock), written through a folder descriptor so the audit hook takes them for files in
its own folder. Nothing of them may remain once the exercise is graded."""
import os


def dot(a, b):
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        try:
            fd = os.open(folder, os.O_RDONLY)
            out = os.open("__MARKER__.left", os.O_WRONLY | os.O_CREAT, 0o666, dir_fd=fd)
            os.write(out, b"left behind")
        except OSError:
            pass
    return float(a @ b)
