"""The `mdlzip` command: compress, decompress, info, test, bench, with xz/zstd conventions."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable

import click

from . import __version__, api
from .config import DEFAULT_LEVEL
from .errors import MdlzipError

SUFFIX = ".mdlz"
STDIN = "-"
EPILOG = "Exit status: 0 success, 1 error, 2 usage error. Output never depends on -T."
CONTEXT = {"help_option_names": ["-h", "--help"]}


class Failure(Exception):
    """An error about one file, reported as `mdlzip: FILE: message` (FILE: `path`, else the input)."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


def display(path: str) -> str:
    return "(stdin)" if path == STDIN else path


def error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "out of memory" if isinstance(exc, MemoryError) else str(exc) or type(exc).__name__


def read_input(path: str) -> bytes:
    if path == STDIN:
        return sys.stdin.buffer.read()
    if os.path.isdir(path):
        raise Failure("Is a directory, skipping")
    with open(path, "rb") as f:
        return f.read()


def write_output(target: str | None, data: bytes, force: bool, source: str) -> None:
    """Write to stdout (target None) or atomically to a file (temp file, then rename), keeping mode and mtime."""
    if target is None:
        if sys.stdout.isatty() and not force:
            raise Failure("data not written to a terminal. Use -f to force.")
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    fd, tmp = tempfile.mkstemp(prefix=".mdlzip-", dir=os.path.dirname(os.path.abspath(target)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if source != STDIN:
            st = os.stat(source)
            os.chmod(tmp, st.st_mode & 0o777)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def process(files: tuple[str, ...], output: str | None, to_stdout: bool, force: bool, rm: bool,
            out_name: Callable[[str], str], transform: Callable[[str, bytes, bool], bytes]) -> None:
    """Apply `transform(path, data, to_terminal_stream)` to each input; one error line per failed
    file; exit status 1 if any failed. The input is removed only with --rm after success."""
    files = files or (STDIN,)
    if output and len(files) > 1:
        raise click.UsageError("-o/--output takes a single input file")
    failed = False
    for path in files:
        try:
            target = None if to_stdout or (path == STDIN and not output) else output or out_name(path)
            if target is not None and os.path.exists(target) and not force:
                raise Failure("File exists", target)
            write_output(target, transform(path, read_input(path), target is None), force, path)
            if rm and path != STDIN and target is not None:
                os.remove(path)
        except Failure as exc:
            click.echo(f"mdlzip: {display(exc.path or path)}: {exc}", err=True)
            failed = True
        except (MdlzipError, OSError, ValueError, MemoryError) as exc:
            click.echo(f"mdlzip: {display(path)}: {error_text(exc)}", err=True)
            failed = True
    if failed:
        sys.exit(1)


def common_options(func):
    """Flags shared by compress and decompress, in the manner of xz and zstd."""
    decorators = [
        click.argument("files", nargs=-1, type=click.Path(allow_dash=True)),
        click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (one input)."),
        click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output."),
        click.option("-f", "--force", is_flag=True, help="Overwrite the output; write to a terminal."),
        click.option("-k", "--keep", is_flag=True, help="Keep the input (the default)."),
        click.option("--rm", is_flag=True, help="Remove the input after success."),
        click.option("-T", "--threads", type=click.IntRange(min=0), help="CPU threads; 0 = all cores."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("-v", "--verbose", count=True, help="More detail."),
        click.option("-q", "--quiet", count=True, help="No report, no progress."),
        click.option("--no-progress", is_flag=True, help="No progress bars (shown only on a terminal)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def level_options(func):
    for n in range(9, 0, -1):
        text = {1: "Fastest: the smallest model.", 6: f"Default.", 9: "Best: largest model, longest training."}
        func = click.option(f"-{n}", "level", flag_value=n, hidden=n not in text, help=text.get(n))(func)
    return func


def progress_wanted(quiet: int, no_progress: bool) -> bool:
    return sys.stderr.isatty() and not quiet and not no_progress


@click.group(context_settings=CONTEXT, epilog=EPILOG)
@click.version_option(__version__, "-V", "--version", prog_name="mdlzip", message="%(prog)s %(version)s")
def main() -> None:
    """Lossless compression by Minimum Description Length: a small transformer is trained on
    each file and stored with it, and the file is range-coded under that model."""


@main.command(epilog=EPILOG)
@common_options
@level_options
@click.option("--json", "as_json", is_flag=True, help="Print the MDL report as JSON (stdout; stderr with -c).")
@click.option("--no-fallback", is_flag=True, help="Write the neural archive even when xz/zstd is smaller.")
def compress(files, output, to_stdout, force, keep, rm, threads, device, verbose, quiet, no_progress,
             level, as_json, no_fallback) -> None:
    """Compress FILES (or standard input) to FILE.mdlz and report the description length."""

    def transform(path: str, data: bytes, to_stream: bool) -> bytes:
        archive, report = api.compress_with_report(
            data, level or DEFAULT_LEVEL, device=device, threads=threads, fallback=not no_fallback,
            progress=progress_wanted(quiet, no_progress))
        if as_json:
            click.echo(api.report_json(report), err=to_stream)
        elif not quiet:
            click.echo(f"{display(path)}:\n{report.format()}", err=True)
        return archive

    def out_name(path: str) -> str:
        if path.endswith(SUFFIX):
            raise Failure(f"already has '{SUFFIX}' suffix, skipping")
        return path + SUFFIX

    process(files, output, to_stdout, force, rm, out_name, transform)


@main.command(epilog=EPILOG)
@common_options
def decompress(files, output, to_stdout, force, keep, rm, threads, device, verbose, quiet, no_progress) -> None:
    """Decompress FILE.mdlz (or standard input) to FILE."""

    def transform(path: str, data: bytes, to_stream: bool) -> bytes:
        return api.decompress(data, device=device, threads=threads, progress=progress_wanted(quiet, no_progress))

    def out_name(path: str) -> str:
        if not path.endswith(SUFFIX) or path == SUFFIX:
            raise Failure(f"unknown suffix ({SUFFIX} expected). Can't derive the output file name. "
                          "Specify it with -o FILE.")
        return path[:-len(SUFFIX)]

    process(files, output, to_stdout, force, rm, out_name, transform)


@main.command("test", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-T", "--threads", type=click.IntRange(min=0))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("-v", "--verbose", count=True, help="Print OK for each good file.")
def test_(files, threads, device, verbose) -> None:
    """Decode FILES and verify their checksums; write nothing."""
    failed = False
    for path in files:
        try:
            api.decompress(read_input(path), device=device, threads=threads)
            if verbose:
                click.echo(f"{display(path)}: OK", err=True)
        except (Failure, MdlzipError, OSError, ValueError, MemoryError) as exc:
            click.echo(f"mdlzip: {display(path)}: {error_text(exc)}", err=True)
            failed = True
    sys.exit(1 if failed else 0)


@main.command("info", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-v", "--verbose", count=True, help="Itemized sizes and the model configuration.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(files, verbose, as_json) -> None:
    """Show what archives hold (sizes, method, model) without decoding them."""
    rows, failed = [], False
    if not as_json:
        click.echo(f"{'Compressed':>12} {'Uncompressed':>12} {'Ratio':>6} {'Method':>7} {'Params(nz)':>18} "
                   f"{'Check':>8}  Filename")
    for path in files:
        try:
            data = read_input(path)
            meta = api.info(data)
        except (Failure, MdlzipError, OSError, ValueError, MemoryError) as exc:
            click.echo(f"mdlzip: {display(path)}: {error_text(exc)}", err=True)
            failed = True
            continue
        rows.append(dict(meta.to_dict(), file=path))
        if as_json:
            continue
        ratio = f"{meta.archive_bytes / meta.original_bytes:.3f}" if meta.original_bytes else "-"
        params = f"{meta.params:,}({meta.nonzeros:,})" if meta.params is not None else "-"
        click.echo(f"{meta.archive_bytes:>12,} {meta.original_bytes:>12,} {ratio:>6} {meta.method:>7} "
                   f"{params:>18} {'CRC32':>8}  {display(path)}")
        if verbose:
            for name, n in meta.sizes.items():
                click.echo(f"    {name:<10} {n:>12,} bytes")
            if meta.model:
                click.echo(f"    model      {json.dumps(meta.model)}")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    sys.exit(1 if failed else 0)


@main.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@level_options
@click.option("-T", "--threads", type=click.IntRange(min=0))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the rows as JSON here.")
@click.option("--no-fallback", is_flag=True, help="Measure the neural archive even where xz/zstd is smaller.")
def bench(paths, level, threads, device, json_out, no_fallback) -> None:
    """Compress, decompress and verify each file (directories: their files) with mdlzip and the
    classical baselines; print a markdown table."""
    from .bench import format_table, run_bench

    rows = run_bench(paths, level or DEFAULT_LEVEL, threads=threads, device=device, fallback=not no_fallback,
                     progress=sys.stderr.isatty())
    click.echo(format_table(rows))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(rows, f, indent=2)
