"""`python -m mdlzip` and the `mdlzip` command: Ctrl-C anywhere, start-up included, exits 130
with one line and no traceback."""
import _signal  # the C module behind `signal`, loaded with the interpreter (`import signal` takes ms)
import sys

from .errors import Interrupted  # a module without imports


_interrupted = []  # set by the handler: a Ctrl-C raised where Python cannot raise it is not lost


def _interrupt(signum, frame):
    _interrupted.append(signum)
    raise Interrupted


def _unraisable(hook_args, default=sys.unraisablehook) -> None:
    """An interrupt that came inside a callback (an import lock's during start-up, a finalizer's
    later) is one Python can only print and drop: keep it quiet here, `run` acts on it once the
    imports are done, or once the command ends."""
    if not isinstance(hook_args.exc_value, (Interrupted, KeyboardInterrupt)):
        default(hook_args)


def run() -> None:
    _signal.signal(_signal.SIGINT, _interrupt)  # before the heavy imports
    sys.unraisablehook = _unraisable
    try:
        from .cli import main

        if _interrupted:
            raise Interrupted
        main()
    except (Interrupted, KeyboardInterrupt):
        sys.stderr.write("mdlzip: interrupted\n")
        sys.exit(130)
    except SystemExit as done:
        if _interrupted and done.code != 130:  # a Ctrl-C raised where it was dropped (a finalizer's)
            sys.stderr.write("mdlzip: interrupted\n")
            sys.exit(130)
        raise


if __name__ == "__main__":
    run()
