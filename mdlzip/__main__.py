"""`python -m mdlzip` and the `mdlzip` command: Ctrl-C during start-up exits 130 quietly too."""
import sys


def run() -> None:
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.stderr.write("mdlzip: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
