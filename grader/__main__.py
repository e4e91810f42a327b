"""``python -m grader`` and the ``grade`` console script.

On Windows the grader cannot even be imported (its sandbox imports ``fcntl`` at import
time), so the platform is checked here, before ``grader.cli`` is imported: one paragraph
pointing to WSL and exit code 2, not a traceback. ``grade`` itself checks again, for
callers that import ``grader.cli`` directly.
"""
import sys


def entry() -> None:
    from .stubs import WINDOWS_MESSAGE, on_windows

    if on_windows():
        print("error: " + WINDOWS_MESSAGE, file=sys.stderr)
        sys.exit(2)
    from .cli import main

    main()


if __name__ == "__main__":
    entry()
