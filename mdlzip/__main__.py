"""`python -m mdlzip` and the `mdlzip` command: Ctrl-C anywhere, start-up included, exits 130
with one line and no traceback."""
import _signal  # the C module behind `signal`, loaded with the interpreter (`import signal` takes ms)
import sys

from .errors import Interrupted  # a module without imports


def _interrupt(signum, frame):
    raise Interrupted


def run() -> None:
    _signal.signal(_signal.SIGINT, _interrupt)  # before the heavy imports
    try:
        from .cli import main

        main()
    except (Interrupted, KeyboardInterrupt):
        sys.stderr.write("mdlzip: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    run()
