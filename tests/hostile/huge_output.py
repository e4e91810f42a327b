"""dot prints without end, to flood the grader (and the disk, if output went to a file)."""


def dot(a, b):
    line = "spam " * 200
    while True:
        print(line)
