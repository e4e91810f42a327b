"""The child's audit hook: what learner code may not do, even by accident.

Loaded by :mod:`grader.runner.child` (by file path, like ``wire``) and installed with
:func:`install` after NumPy/PyTorch are imported and *before* the learner's module is.
A hook added with :func:`sys.addaudithook` cannot be removed by Python code, and this
one keeps no reference to itself anywhere learner code can reach without ``gc`` (which
it refuses), so it holds for the life of the process.

It refuses, with a ``PermissionError`` that says why:

- reading the reference solutions, the quiz answer keys, the grader's own files or other
  folders the teacher put off limits (``forbidden`` roots; the most specific of ``forbidden``
  and ``allowed`` decides): reported to the grader at once on the ``report_fd`` pipe, before
  control returns to learner code, and the exercise is flagged as using the reference
  solution;
- looking at the grader's process (``/proc/<grader pid>/...``): reported the same way;
- writing, deleting or renaming files outside the working folder (the report file,
  the learner's own exercises, the grader);
- starting programs or processes (``subprocess``, ``os.system``, ``os.fork``, ``exec``);
- signalling any process but itself;
- the network (connecting, listening, looking up names);
- walking the garbage collector's object lists (the way to this hook's own state);
- ``ctypes`` (calling C directly, around every rule above) from learner code.

This is one layer. Under it, the grader runs the child as its own user where it can,
with resource limits, and kills everything that user started when the exercise ends
(see :mod:`grader.runner.sandbox` and docs/security.md).
"""
import os
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_PROCESS_EVENTS = frozenset({
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "subprocess.Popen", "pty.spawn",
})
_PATH_WRITE_EVENTS = {  # event -> indexes of the path arguments it changes
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,),
    "os.mkdir": (0,), "os.utime": (0,), "shutil.rmtree": (0,), "os.chflags": (0,),
    "os.setxattr": (0,), "os.removexattr": (0,), "os.mkfifo": (0,), "os.mknod": (0,),
}
_LIST_EVENTS = ("os.listdir", "os.scandir", "glob.glob", "os.chdir")
_GC_EVENTS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents")
_CTYPES_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
                  "ctypes.cdata", "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at",
                  "ctypes.cdata/buffer", "code.__new__")
_SIGNAL_EVENTS = ("os.kill", "os.killpg", "signal.pthread_kill")
_NETWORK_EVENTS = ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo",
                   "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr")


def install(*, workdir, source_dirs, forbidden, allowed, grader_pid, report_fd, library_roots):
    """Add the audit hook. All state lives in this function's closure."""
    import _thread
    import pathlib

    get_ident = _thread.get_ident
    realpath = os.path.realpath
    sep = os.sep
    my_pid = os.getpid()

    def under(path, roots):
        return any(path == r or path.startswith(r + sep) for r in roots)

    def deepest(path, roots):
        return max((len(r) for r in roots if path == r or path.startswith(r + sep)), default=-1)

    workdir = realpath(workdir)
    writable = (workdir, "/dev/null", "/dev/shm")
    source_dirs = tuple(realpath(d) for d in source_dirs)
    forbidden = tuple(realpath(d) for d in forbidden)
    allowed = tuple(realpath(d) for d in allowed)
    proc_grader = f"/proc/{int(grader_pid)}"
    library_roots = tuple(realpath(d) for d in library_roots if d)
    pure_str = pathlib.PurePath.__str__
    pure_fspath = pathlib.PurePath.__fspath__
    path_types = (pathlib.PosixPath, pathlib.PurePosixPath)
    busy = set()  # threads inside the hook (its own file calls must not recurse)
    state = {"reported": set()}
    frozenset_ = frozenset
    watched = frozenset_({"open", *_PROCESS_EVENTS, *_PATH_WRITE_EVENTS, *_LIST_EVENTS, *_GC_EVENTS,
                          *_CTYPES_EVENTS, *_SIGNAL_EVENTS, *_NETWORK_EVENTS})

    def report(kind, what):
        """Tell the grader now, on its own pipe; learner code never sees this fd's writes."""
        key = (kind, what)
        if key in state["reported"] or len(state["reported"]) > 50:
            return
        state["reported"].add(key)
        try:
            os.write(report_fd, f"{kind}\t{what[:300]}\n".encode("utf-8", "replace"))
        except OSError:
            pass  # the pipe is full or was closed: the action is refused anyway

    def as_path(value):
        """A path argument as text, without running any learner-defined method."""
        t = type(value)
        if t is str:
            return value
        if t is bytes:
            return os.fsdecode(value)
        if t in path_types and t.__fspath__ is pure_fspath and t.__str__ is pure_str:
            return pure_str(value)
        return None  # an int (an open fd) or an object we will not call into

    def resolve(value):
        text = as_path(value)
        if text is None:
            return None
        try:
            return realpath(text)
        except (OSError, ValueError):
            return text

    def learner_is_calling():
        """Is the innermost frame that is not the hook, ctypes or importlib learner code?"""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith("<frozen") or "/ctypes/" in name or name == __file__:
                frame = frame.f_back
                continue
            if name.startswith("<"):
                return True  # code the learner compiled from a string
            try:
                name = realpath(name)
            except (OSError, ValueError):
                return True
            if under(name, source_dirs) or under(name, (workdir,)):
                return True
            return not under(name, library_roots)
        return False

    def refuse(message):
        raise PermissionError(message)

    def check_read(path):
        if path is None:
            return
        # The most specific folder decides: solutions/ inside the graded folder stays off limits,
        # the graded folder inside an off-limits batch folder stays readable.
        if deepest(path, forbidden) > deepest(path, allowed):
            report("reference", path)
            refuse("the grader does not let exercises read the reference solutions, the quiz answers "
                   "or the grader's own files")
        if path == proc_grader or path.startswith(proc_grader + "/"):
            report("grader-process", path)
            refuse("the grader does not let exercises look at the grader's own process")

    def check_write(path, raw):
        if path is None:
            if type(raw) is int:
                return
            refuse("name the file with a str path")
        if not under(path, writable):
            refuse(f"exercises may only write files in their own working folder, not {path}")

    def hook(event, args):
        if event not in watched:
            return
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            if event == "open":
                path = resolve(args[0])
                if path is None and type(args[0]) is not int:
                    refuse("open files by name (a str path)")
                check_read(path)
                mode, flags = args[1], args[2]
                wants_write = (type(mode) is str and any(c in mode for c in "wax+")) or \
                              (type(flags) is int and flags & _WRITE_FLAGS)
                if wants_write:
                    check_write(path, args[0])
            elif event in _LIST_EVENTS:
                if args:
                    check_read(resolve(args[0]))
            elif event in _PATH_WRITE_EVENTS:
                for i in _PATH_WRITE_EVENTS[event]:
                    if i < len(args):
                        path = resolve(args[i])
                        check_read(path)
                        check_write(path, args[i])
            elif event in _PROCESS_EVENTS:
                report("process", event)
                refuse("exercises may not start other programs or processes")
            elif event in _SIGNAL_EVENTS:
                target = args[0] if args else None
                if event == "signal.pthread_kill" or (type(target) is int and target in (0, my_pid, -my_pid)):
                    return
                if event == "os.killpg" and type(target) is int and target == os.getpgid(0):
                    return
                refuse("exercises may not send signals to other processes")
            elif event in _NETWORK_EVENTS:
                refuse("exercises may not use the network")
            elif event in _GC_EVENTS:
                if learner_is_calling():
                    refuse("exercises may not walk the garbage collector's lists of objects")
            elif event in _CTYPES_EVENTS:
                if learner_is_calling():
                    refuse("exercises may not use ctypes or build code objects")
        finally:
            busy.discard(me)

    sys.addaudithook(hook)
