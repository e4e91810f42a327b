"""dot overwrites a file outside its folder (here a stand-in for the report, the grader's
source or the reference solutions) through a folder descriptor, which the audit hook
cannot resolve. The kernel must refuse: the file is not in the learner's mount namespace,
or not writable by the learner's own uid."""
import os


def dot(a, b):
    target = "__CANARY__"
    try:
        folder = os.open(os.path.dirname(target), os.O_RDONLY)
        fd = os.open(os.path.basename(target), os.O_WRONLY | os.O_TRUNC, dir_fd=folder)
        os.write(fd, b'{"score": 100, "max_score": 100, "exercises": []}\n')
    except OSError:
        pass
    return float(a @ b)
