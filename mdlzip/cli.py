"""The `mdlzip` command: compress, decompress, info, test and bench, in the manner of xz and zstd.

The product's command: it loads the research tools (`mdlzip.lab`) only inside `bench`, and torch
only where the library runs a model.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable

import click

from . import __version__, api
from .errors import Interrupted, MdlzipError, OptionError
from .levels import CLASSICAL_LEVEL, DEFAULT_LEVEL
from .levels import LEVELS as LEVELS_TABLE  # LEVELS here: the -1 ... -9 options
from .memory import DEFAULT_MEMLIMIT, format_size, parse_memlimit
from .options import SIZES, TRAIN_KEYS, CompressOptions
from .records import DEFAULT_BLOCK_SIZE
from .runtime import DEVICES
from .training.config import REGULARIZERS

SUFFIX = ".mdlz"
STDIO = "-"
FAILURES = (click.FileError, MdlzipError, OSError, MemoryError)  # exit 1
SHORTCUTS = {"-z": "compress", "--compress": "compress", "-d": "decompress", "--decompress": "decompress",
             "--uncompress": "decompress", "-t": "test", "--test": "test", "-l": "info", "--list": "info"}
VALUED = "To"  # short options that take a value: the rest of their cluster, or the next word
GROUP_FLAGS = ("-h", "--help", "-V", "--version")
USAGE = 1  # exit status of a usage error, as xz
WARNING = 2  # exit status when nothing failed but something was skipped
TERMS = {"weights": "  MDL model term", "data": "  MDL data term"}  # the two parts of the description length
EXIT = "Exit status: 0 success, 1 error (a usage error too), 2 warning (e.g. a skipped file), 130 interrupted."
INTERRUPTED = 130  # 128 + SIGINT, as shells report a command that Ctrl-C stopped
EPILOG = f"""\b
As xz: the operation letters -z compress (the default), -d decompress, -t test,
-l (or list) info may come anywhere and in any cluster: mdlzip -cd FILE, -kdc,
-dvT0; bare mdlzip compresses stdin to stdout (tar -I mdlzip works both ways).
{EXIT}"""


class AlphaType(click.ParamType):
    """A positive number or 'auto'."""

    name = "ALPHA|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or isinstance(value, float):
            return value
        try:
            alpha = float(value)
        except ValueError:
            alpha = -1.0
        if not alpha >= 0:
            self.fail(f"{value!r} is neither a non-negative number nor 'auto'", param, ctx)
        return alpha


class MemlimitType(click.ParamType):
    """A memory limit: bytes, with KiB/MiB/GiB, a percentage of physical memory, or 0 (none)."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        try:
            return parse_memlimit(value)
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


class SizeType(click.ParamType):
    """A size in bytes: 4096, 2k, 64KiB, 1M."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        from .records import parse_size

        try:
            return parse_size(value, param.opts[0] if param else "size")
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


class DurationType(click.ParamType):
    """A duration in seconds: 600, 90s, 15m, 2h, 1.5h."""

    name = "DURATION"
    UNITS = {"s": 1, "m": 60, "h": 3600}

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        text = value.strip().lower()
        number, unit = (text[:-1], self.UNITS[text[-1]]) if text[-1:] in self.UNITS else (text, 1)
        try:
            seconds = float(number) * unit
        except ValueError:
            seconds = -1.0
        if not (0 < seconds < float("inf")):
            self.fail(f"{value!r} is not a duration such as 600, 90s, 15m or 2h", param, ctx)
        return seconds


class RecordsType(click.ParamType):
    """How to cut the inputs into records: lines, csv, or a SIZE."""

    name = "lines|csv|SIZE"

    def convert(self, value, param, ctx):
        from .records import RECORDS, parse_kind

        try:
            if parse_kind(value)[0] == RECORDS:  # the API's records given one by one: not from files
                raise OptionError(value)
        except OptionError:
            self.fail(f"{value!r} is none of 'lines', 'csv' or a size such as 2k", param, ctx)
        return value


def _wants_value(words: list[str]) -> bool:
    """Whether the last word is a short-option cluster ending in an option that takes a value."""
    last = words[-1] if words else ""
    return last.startswith("-") and not last.startswith("--") and last[-1] in VALUED


def operation_args(args: list[str], commands) -> list[str]:
    """xz's command line -> mdlzip's: the operation letters (-z -d -t -l, or --compress ...) may sit
    anywhere and in any cluster (-cd, -kdc, -dvT0, -c -d); without one the operation is compress
    (bare `mdlzip`: stdin to stdout, as `tar -I mdlzip` runs it). A subcommand name first, or only
    -h/--help/-V/--version, leaves the arguments as they are."""
    if args and (args[0] in commands or all(a in GROUP_FLAGS for a in args)):
        return args
    operation, rest = None, []
    for i, arg in enumerate(args):
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in SHORTCUTS:
            operation = SHORTCUTS[arg]
            continue
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1 and not _wants_value(rest):
            kept = ""
            for j, letter in enumerate(arg[1:], 1):
                if letter in VALUED:  # the rest of the cluster is its value
                    kept += arg[j:]
                    break
                if "-" + letter in SHORTCUTS:
                    operation = SHORTCUTS["-" + letter]
                else:
                    kept += letter
            if kept:
                rest.append("-" + kept)
            continue
        rest.append(arg)
    return [operation or "compress", *rest]


class Mdlzip(click.Group):
    """The subcommands, and xz's command line (operation letters anywhere, compress by default)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = USAGE
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = USAGE
            raise
        except (KeyboardInterrupt, Interrupted):  # outside a file's work (`_each` reports it with its name)
            click.echo("mdlzip: interrupted", err=True)
            ctx.exit(INTERRUPTED)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, operation_args(args, self.commands))


def _name(path: str) -> str:
    return "(stdin)" if path == STDIO else path


def _error(path: str, exc: BaseException) -> None:
    where = getattr(exc, "filename", None) or _name(path)
    message = (isinstance(exc, OSError) and exc.strerror) or str(exc) or type(exc).__name__
    click.echo(f"mdlzip: {where}: {message}".replace("\n", " "), err=True)


def _each(files: tuple[str, ...], work: Callable[[str], bool | None], quiet: int = 0) -> int:
    """Run `work` on every input; one stderr line per error (none with -qq). The exit
    status: 1 if any failed, else 2 if any `work` returned True (a warning), else 0."""
    status = 0
    for path in files:
        try:
            if work(path):
                status = status or WARNING
        except FAILURES as exc:
            if quiet < 2:
                _error(path, exc)
            status = 1
        except (KeyboardInterrupt, Interrupted):  # no output is left behind (_write); the inputs are untouched
            click.echo(f"mdlzip: {_name(path)}: interrupted", err=True)
            sys.exit(INTERRUPTED)
    return status


def _read(path: str, archive: bool = False) -> bytes:
    if path != STDIO:
        with open(path, "rb") as f:
            return f.read()
    return _stdin(archive)


def _read_input(path: str) -> bytearray | bytes:
    """An input to compress: a regular file read into a bytearray of its size, which the cm coder
    then uses as its own copy of the bytes (api.compress_pieces), so the input is held once."""
    if path == STDIO:
        return _stdin(False)
    with open(path, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return f.readall()
        buf, got = bytearray(st.st_size), 0
        with memoryview(buf) as view:
            while got < len(buf) and (n := f.readinto(view[got:])):
                got += n
        if got != len(buf) or f.read(1):  # the file changed size while it was read
            raise click.FileError(path, "the file changed while it was read")
        return buf


def _stdin(archive: bool) -> bytes:
    stdin = click.get_binary_stream("stdin")
    if archive and stdin.isatty():
        raise click.FileError("(stdin)", "compressed data not read from a terminal.")
    return stdin.read()


def _target(path: str, o: dict, derive: Callable[[str], str]) -> str | None:
    """The output file (None: stdout), checked before any work is done."""
    if o["to_stdout"] or o["output"] == STDIO or (path == STDIO and not o["output"]):
        return None
    dest = o["output"] or derive(path)
    if os.path.lexists(dest) and not o["force"]:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
    if path != STDIO and os.path.exists(dest) and os.path.samefile(path, dest):
        raise click.FileError(dest, "input and output are the same file")
    return dest


def _write(dest: str | None, data: bytes | list, src: str) -> None:
    """Write `data` (or its pieces, one after another) to stdout, or to a temporary file beside
    `dest` that replaces it only once complete."""
    pieces = data if isinstance(data, list) else [data]
    if dest is None:
        stdout = click.get_binary_stream("stdout")
        stdout.writelines(pieces)
        stdout.flush()
        return
    f = tempfile.NamedTemporaryFile(dir=os.path.dirname(dest) or ".", prefix=f".{os.path.basename(dest)}.",
                                    suffix=".tmp", delete=False)
    try:
        with f:
            f.writelines(pieces)
        if src != STDIO and os.path.isfile(src):
            shutil.copystat(src, f.name)  # the input's mode and times, as xz keeps them
        else:
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(f.name, 0o666 & ~umask)
        os.replace(f.name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        raise


def _finish(path: str, dest: str | None, o: dict) -> None:
    """Say where the output went (-v); remove the input (--rm) now that the output is complete."""
    if o["verbose"] > o["quiet"]:
        click.echo(f"{_name(path)} -> {dest or '(stdout)'}", err=True)
    if not o["keep"] and path != STDIO and dest is not None:
        os.remove(path)


def _options(*decorators):
    return lambda func: functools.reduce(lambda f, decorator: decorator(f), reversed(decorators), func)


FILES = click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
THREADS = click.option("-T", "--threads", type=click.IntRange(min=0), metavar="N", help="CPU threads (0: all cores).")
DEVICE = click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
                      help="Where a model runs (never changes the bytes).")
MODEL_FILE = click.option("-M", "--model-file", "model_file", type=click.Path(dir_okay=False),
                          help="The model file (.mdlm, from mdlzip train) the archive was coded with.")
DISTRIBUTED = click.option("--distributed", is_flag=True, help="Run as one of the processes that torchrun starts "
                           "(torchrun --nproc-per-node N -m mdlzip ... --distributed): they train the model together "
                           "(DDP, a GPU each where there are GPUs), rank 0 writes.")
MEMLIMIT = click.option("--memlimit", type=MemlimitType(), default=str(DEFAULT_MEMLIMIT),
                        help=f"Refuse to decode an archive that needs more memory (default {format_size(DEFAULT_MEMLIMIT)}; "
                             "KiB/MiB/GiB, N% of RAM, 0: no limit).")
CODING = _options(
    THREADS, DEVICE, click.option("-v", "--verbose", count=True, help="Say more."),
    click.option("-q", "--quiet", count=True, help="No report, no progress bars; -qq: no warnings either."),
    click.option("--no-progress", is_flag=True, help="No progress bars (shown only on a terminal anyway)."),
    click.option("-r", "--recursive", is_flag=True, help="Directories: every file under them (decompress, test: those "
                 "ending in .mdlz), each beside itself, as gzip -r."),
    click.option("--files", "files_from", type=click.File("r"), metavar="LIST",
                 help="Also the file names in LIST, one per line (-: standard input), as xz --files."))
OUTPUT = _options(
    click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
                 help="Write this file (one input only; -: standard output)."),
    click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output."),
    click.option("-f", "--force", is_flag=True, help="Overwrite the output file; write to a terminal."),
    click.option("-k", "--keep", "keep", flag_value=True, default=True, help="Keep the input (the default)."),
    click.option("--rm", "keep", flag_value=False, help="Remove the input after success (not with -c)."))
MODEL = _options(
    click.option("--pure", is_flag=True, help="The seed's pure two-part code: the transformer alone, no adaptive mixing."),
    click.option("--model/--no-model", default=None,
                 help="Train the transformer and mix it in also where the level would not; --no-model: never "
                      "(cm and the classical methods alone, at any size)."),
    click.option("--regularizer", type=click.Choice(REGULARIZERS), help="Sparsity method (default: the level's)."),
    click.option("--alpha", type=AlphaType(), help="Regularization strength, or 'auto': chosen by description length."),
    click.option("--beta", type=click.FloatRange(min=0, min_open=True), help="DRR sharpness (penalty 1 - exp(-beta |w|))."),
    click.option("--tolerance", type=click.FloatRange(min=0), help="TAMADE: relative training-loss increase allowed."),
    click.option("--prelude", "prelude_frac", type=click.FloatRange(0, 1), help="Fraction of the steps before regularizing."),
    click.option("--finetune", "finetune_frac", type=click.FloatRange(0, 1), help="Fraction of the steps after pruning."),
    click.option("--lump-eps", type=click.FloatRange(min=0), help="Lump MLP neurons equal within this L1 tolerance."),
    click.option("--size", type=click.Choice(SIZES), help="The model's width where one is trained: auto (the default: "
                 "the level's, its half or its quarter, by measured total bytes) or level (the level's)."),
    click.option("--time-budget", type=DurationType(), help="How long compressing may take on 2 cores, model included "
                 "(600, 90s, 15m, 2h): it caps the training steps (default: the level's, 60 s per MB at -6)."))
def _level_help(n: int) -> str:
    """What a level means, from levels.LEVELS (the cm statistics are the same at every level)."""
    level = LEVELS_TABLE[n]
    when = "at any size" if level.model_min_bytes == 0 else f"from {level.model_min_bytes >> 20} MiB"
    tag = {1: "Fastest. ", DEFAULT_LEVEL: "Default. ", 9: "Best. "}.get(n, "")
    return (f"{tag}Model {level.n_layer} x {level.n_embd}, context {level.block_size}, {level.epochs:g} epochs; "
            f"trained {when}.")


LEVELS = _options(*[click.option(f"-{n}", "level", flag_value=n, **({"default": True} if n == DEFAULT_LEVEL else {}),
                                 help=_level_help(n)) for n in range(1, 10)],
                  click.option("-0", "level", flag_value=CLASSICAL_LEVEL,
                               help="No statistics, no model: the smallest of stored, zstd -19, xz -9e (fast)."),
                  click.option("--fast", "level", flag_value=1, help="-1."),
                  click.option("--best", "level", flag_value=9, help="-9."))


def compress_options(o: dict) -> dict:
    """The options of `api.compress_with_report` the user gave, checked once before any file:
    a combination the library refuses is a usage error."""
    given = {k: o[k] for k in (*TRAIN_KEYS, "lump_eps", "size", "time_budget") if o.get(k) is not None}
    if o.get("pure"):
        given["pure"] = True
    if o.get("model") is not None:  # --model or --no-model
        given["model"] = o["model"]
    given.update(device=o["device"], threads=o["threads"], fallback=not o["no_fallback"], progress=o["progress"])
    try:
        CompressOptions.from_keywords("compress", given)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    return given


@contextlib.contextmanager
def _ranks(files: tuple[str, ...], o: dict, one_run: bool):
    """--distributed: this process joins torchrun's for the command (training/distributed.py), its own
    device in o["device"]; the ranks other than 0 show no progress and no warnings. A combination
    that cannot train on several processes is a usage error; `one_run`: the inputs make one training."""
    if not o["distributed"]:
        yield
        return
    from .training import distributed

    misuse = ("-0 trains no model" if o["level"] == CLASSICAL_LEVEL else
              "-M codes with a model already trained" if o.get("model_file") else
              "standard input and output belong to one process" if STDIO in files or o.get("to_stdout")
              or o.get("output") == STDIO else
              "one training at a time: several inputs need -o (one archive)" if not one_run else None)
    try:
        if misuse:
            raise OptionError(f"--distributed: {misuse}")
        distributed.check_launched()
        distributed.rank_device(o["device"])
    except MdlzipError as exc:  # no CUDA for --device cuda too: nothing has started
        raise click.UsageError(str(exc)) from None
    worker = False
    try:
        with distributed.process_group(o["device"]) as device:
            o["device"] = device
            worker = not distributed.is_main()
            if worker:
                o.update(progress=False, quiet=max(o["quiet"], 1))
            yield
    except SystemExit as exc:
        if worker:
            _leave(exc.code)
        raise
    if worker:
        _leave(0)


def _leave(code) -> None:
    """A rank other than 0 ends here, its group left, without the interpreter's teardown (as
    multiprocessing's children do): in that teardown gloo aborted the process about one exit in ten
    ("terminate called without an active exception", SIGABRT, after every Python line had run)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _inputs(files: tuple[str, ...], o: dict, compressing: bool) -> tuple[str, ...]:
    """The inputs: FILEs (none: stdin), then the names listed by --files; with -r, directories replaced by the
    files under them (sorted; for decompress and test only the archives)."""
    names = list(files) + ([line for line in o["files_from"].read().splitlines() if line] if o["files_from"] else [])
    if not names and not o["files_from"]:
        return (STDIO,)  # no FILE: standard input
    if not o["recursive"]:
        return tuple(names)
    expanded = []
    for name in names:
        if name == STDIO or not os.path.isdir(name):
            expanded.append(name)
            continue
        for root, dirs, found in os.walk(name):
            dirs.sort()
            expanded += [os.path.join(root, f) for f in sorted(found) if compressing or f.endswith(SUFFIX)]
    return tuple(expanded)


def _prepare(files: tuple[str, ...], o: dict, compressing: bool = False) -> tuple[str, ...]:
    """The inputs (-r, --files), checked against the output options; decide on progress bars.
    Compressing into one archive (`_one_archive`), -r and several inputs go into its members."""
    one = compressing and _one_archive(files, o)
    if o["recursive"] and (o.get("to_stdout") or o.get("output")) and not one:
        raise click.UsageError("-r writes each file beside itself: not with -c or -o (or with -o and --records)")
    files = _inputs(files, o, compressing)
    if o.get("output") and o["to_stdout"]:
        raise click.UsageError("-o and -c both name the output")
    if o.get("output") and len(files) > 1 and not one:
        raise click.UsageError("-o takes one input file (compressing: several go into one multi-member archive)")
    to_stdout = o.get("to_stdout") or o.get("output") == STDIO or ((not files or STDIO in files) and not o.get("output"))
    if compressing and o["as_json"] and to_stdout:
        raise click.UsageError("--json prints on standard output, where -c writes the archive")
    o["progress"] = not o["no_progress"] and not o["quiet"] and click.get_text_stream("stderr").isatty()
    return files


@click.group(cls=Mdlzip, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, "-V", "--version", prog_name="mdlzip", message="%(prog)s %(version)s")
def main() -> None:
    """Lossless compression by Minimum Description Length. By default a file is coded with
    adaptive context-mixing statistics (below 16 MiB at -1 ... -6 a stored model costs more than it
    saves); -7 ... -9, --model or a model option train a small transformer, store it in the archive
    and mix it in; --pure codes under the transformer alone. The report itemizes model and data bits."""


@main.command(epilog=EXIT)
@FILES
@OUTPUT
@LEVELS
@CODING
@click.option("--json", "as_json", is_flag=True, help="Print the full MDL report as JSON on stdout (a list for several "
              "files; not with -c).")
@MODEL
@click.option("--no-fallback", is_flag=True, help="Write the model's archive even when cm/stored/zstd/xz is smaller.")
@click.option("--records", type=RecordsType(), help="One multi-member archive whose records are read one by one: "
              "'lines' (JSON lines, logs), 'csv' (rows), or a SIZE such as 4M (fixed blocks; without a model "
              "they are coded on -T threads).")
@click.option("--block-size", type=SizeType(), help="Multi-member archive: records per random-access block, at "
              "least this many bytes (0: one record per block; the default).")
@click.option("-M", "--model-file", "model_file", type=click.Path(dir_okay=False, exists=True),
              help="Code with this model file (mdlzip train) instead of training one; it is not stored: "
                   "decoding needs it too (a multi-member archive).")
@DISTRIBUTED
def compress(files: tuple[str, ...], **o) -> None:
    """Compress FILEs to FILE.mdlz (no FILE, or -: stdin to stdout). One line per file on stderr
    (none when writing to stdout); -v: the itemized MDL report; --json: the full report on stdout.

    A FILE already ending in .mdlz is skipped with a warning (exit status 2). A model option
    (--regularizer, --alpha, ..., --lump-eps) trains a model where the level would not."""
    one = _one_archive(files, o)
    files = _prepare(files, o, compressing=True)
    with _ranks(files, o, one_run=one or len(files) == 1):
        _compress_files(files, o, one)


def _compress_files(files: tuple[str, ...], o: dict, one: bool) -> None:
    """compress's work once its inputs are known: one multi-member archive (`one`), or one per input."""
    options = compress_options(o)
    if one:
        sys.exit(_each((o["output"] or files[0],), lambda _: _compress_members(files, o, options), o["quiet"]))
    reports = []

    def work(path: str) -> bool:
        if path != STDIO and path.endswith(SUFFIX) and not (o["to_stdout"] or o["output"]):
            if not o["quiet"]:
                click.echo(f"mdlzip: {path}: already has '{SUFFIX}' suffix, skipping", err=True)
            return True
        dest = _target(path, o, lambda p: p + SUFFIX)
        if dest is None and not o["force"] and click.get_binary_stream("stdout").isatty():
            raise click.FileError("(stdout)", "compressed data not written to a terminal. Use -f to force.")
        archive, report = api.compress_pieces(_read_input(path), o["level"], **options)
        if archive is None:  # another rank of a distributed training: rank 0 writes
            return False
        _write(dest, archive, path)
        _finish(path, dest, o)
        if o["verbose"] > o["quiet"]:
            click.echo(report.format(), err=True)
        elif not (o["quiet"] or o["as_json"] or dest is None):
            click.echo(_summary(path, report), err=True)
        reports.append(dict(report.to_dict(), file=_name(path)))
        return False

    status = _each(files, work, o["quiet"])
    if o["as_json"] and reports:
        click.echo(json.dumps(reports[0] if len(files) <= 1 else reports, indent=2))
    sys.exit(status)


def _one_archive(files: tuple[str, ...], o: dict) -> bool:
    """Whether to write one multi-member archive: --records, --block-size or -M, or -o with several
    inputs or with -r."""
    several = len(files) > 1 or o["recursive"] or bool(o["files_from"])
    asked = o["records"] is not None or o["block_size"] is not None or o["model_file"] is not None
    return asked or (bool(o["output"]) and several)


def _model_file(path: str | None) -> bytes | None:
    """The bytes of the -M model file, if one was given."""
    return None if path is None else _read(path)


def member_name(path: str) -> str:
    """The name a file is stored under: the path as given, relative (leading '/' and './' dropped, as tar does)."""
    if path == STDIO:
        return "stdin"
    name = os.path.normpath(path).replace(os.sep, "/").lstrip("/")
    return name if name not in ("", ".") else os.path.basename(os.path.abspath(path))


def _compress_members(files: tuple[str, ...], o: dict, options: dict) -> None:
    """Every input into one multi-member archive (-o FILE, or stdout): one model for all."""
    from .dataset import compress_dataset_with_report

    if len(files) > 1 and not (o["output"] or o["to_stdout"]):
        raise click.UsageError("several inputs go into one archive: name it with -o FILE (or -c)")
    dest = _target(files[0], o, lambda p: p + SUFFIX)
    if dest is None and not o["force"] and click.get_binary_stream("stdout").isatty():
        raise click.FileError("(stdout)", "compressed data not written to a terminal. Use -f to force.")
    items = [(member_name(path), _read(path)) for path in files]
    options = {k: v for k, v in options.items() if k != "fallback"}
    model_file = _model_file(o["model_file"])
    block_size = o["block_size"] if o["block_size"] is not None else DEFAULT_BLOCK_SIZE
    archive, report = compress_dataset_with_report(items, o["level"], records_kind=o["records"], block_size=block_size,
                                                   model_file=model_file, **options)
    if archive is None:  # another rank of a distributed training: rank 0 writes
        return
    _write(dest, archive, files[0] if len(files) == 1 else STDIO)
    if o["verbose"] > o["quiet"]:
        click.echo(report.format(), err=True)
    elif not (o["quiet"] or o["as_json"] or dest is None):
        click.echo(_summary(dest, report), err=True)
    if o["as_json"]:
        click.echo(json.dumps(dict(report.to_dict(), file=dest), indent=2))
    if not o["keep"]:
        for path in files:
            if path != STDIO:
                os.remove(path)


def _summary(path: str, report: api.Report) -> str:
    """The default report: one line, as zstd prints."""
    xz = f", xz -9e {report.xz_bytes:,}" if report.xz_bytes else ""
    return (f"{_name(path)}: {report.original_bytes:,} -> {report.archive_bytes:,} bytes, "
            f"{report.bits_per_byte:.3f} bits/byte, {report.method}{xz}")


def _strip(path: str) -> str:
    if os.path.basename(path).endswith(SUFFIX) and os.path.basename(path) != SUFFIX:
        return path[:-len(SUFFIX)]
    raise click.FileError(path, f"unknown suffix ({SUFFIX} expected). Can't derive the output file name. "
                          "Specify it with -o FILE.")


@main.command(epilog=EXIT)
@FILES
@OUTPUT
@CODING
@MEMLIMIT
@MODEL_FILE
def decompress(files: tuple[str, ...], **o) -> None:
    """Decompress FILE.mdlz to FILE (no FILE, or -: stdin to stdout). A multi-member archive gives
    its members' bytes in order (one file cut into records: that file); `extract` writes files."""
    files = _prepare(files, o)

    def work(path: str) -> None:
        dest = _target(path, o, _strip)
        data = api.decompress_pieces(_read(path, archive=True), device=o["device"], threads=o["threads"],
                                     progress=o["progress"], memlimit=o["memlimit"],
                                     model_file=_model_file(o["model_file"]))
        _write(dest, data, path)
        _finish(path, dest, o)

    sys.exit(_each(files, work, o["quiet"]))


@main.command("test", epilog=EXIT)
@FILES
@CODING
@MEMLIMIT
@MODEL_FILE
def test_(files: tuple[str, ...], **o) -> None:
    """Decode FILEs (no FILE, or -: stdin) and verify their checksums; write nothing."""
    files = _prepare(files, o)

    def work(path: str) -> None:
        data = api.decompress_pieces(_read(path, archive=True), device=o["device"], threads=o["threads"],
                                     progress=o["progress"], memlimit=o["memlimit"],
                                     model_file=_model_file(o["model_file"]))
        if o["verbose"] > o["quiet"]:
            click.echo(f"{_name(path)}: OK, {sum(map(len, data)):,} bytes", err=True)

    sys.exit(_each(files, work, o["quiet"]))


@main.command(epilog=EXIT)
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-v", "--verbose", count=True, help="Itemize the sizes; show the model configuration.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
@MEMLIMIT
def info(files: tuple[str, ...], verbose: int, as_json: bool, memlimit: int) -> None:
    """Describe archives without decoding them (alias: list); a file of concatenated archives
    gets a row per archive, FILE[1], FILE[2], ..."""
    rows, line = [], "{:>12} {:>14} {:>7}  {:<7} {:>20}  {:<5}  {}".format
    if not as_json:
        click.echo(line("Compressed", "Uncompressed", "Ratio", "Method", "Params(nz)", "Check", "Filename"))

    members_of: dict[int, list[dict]] = {}

    def work(path: str) -> None:
        blob = _read(path, archive=True)
        members = api.info_all(blob, memlimit)
        for k, meta in enumerate(members, 1):
            if meta.members is not None:
                members_of[id(meta)] = api.list_members(blob) if len(members) == 1 else []
            shown(meta, _name(path) + (f"[{k}]" if len(members) > 1 else ""))

    def shown(meta: api.ArchiveInfo, name: str) -> None:
        rows.append(dict(meta.to_dict(), file=name))
        if as_json:
            return
        ratio = f"{meta.archive_bytes / meta.original_bytes:.3f}" if meta.original_bytes else "---"
        params = f"{meta.params:,}({meta.nonzeros:,})" if meta.nonzeros is not None else \
            f"{meta.params:,}(?)" if meta.params is not None else "-"
        click.echo(line(f"{meta.archive_bytes:,}", f"{meta.original_bytes:,}", ratio, meta.method, params, "CRC32", name))
        if meta.members is not None:
            click.echo(f"    {meta.members:,} members, {meta.records:,} records in {meta.blocks:,} blocks")
            for member in members_of.get(id(meta), ()):
                click.echo(f"    {member['size']:>12,} {member['records']:>10,} records  {member['name']}")
        for part, n in meta.sizes.items() if verbose else ():
            click.echo(f"    {part:<10} {n:>12,} bytes{TERMS.get(part, '')}")
        if verbose:
            over = f", over the limit of {format_size(memlimit)}" if memlimit and meta.memory_needed > memlimit else ""
            click.echo(f"    memory needed to decode: {format_size(meta.memory_needed)}{over}")
        if verbose and meta.model:
            click.echo("    model      " + " ".join(f"{k}={v}" for k, v in meta.model.items()))
        if meta.model_sha256:
            click.echo(f"    external model, not stored: sha256 {meta.model_sha256} (decode with -M FILE)")

    failed = _each(files, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    sys.exit(failed)


main.add_command(info, "list")  # as `zstd -l` and `mdlzip -l`


@main.command(epilog=EXIT)
@click.argument("samples", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The model file to write (.mdlm).")
@click.option("-f", "--force", is_flag=True, help="Overwrite the output file.")
@click.option("-r", "--recursive", is_flag=True, help="Directories: every file under them.")
@click.option("--records", type=RecordsType(), help="Train on records as compress --records cuts them "
              "(each record from its start, as coding sees it).")
@LEVELS
@THREADS
@DEVICE
@click.option("-q", "--quiet", count=True, help="No report, no progress bars.")
@MODEL
@DISTRIBUTED
def train(samples: tuple[str, ...], output: str, force: bool, recursive: bool, records: str | None, **o) -> None:
    """Train a reusable model on SAMPLES and write it as a model file (FILE.mdlm): `compress -M FILE`
    codes new data of the same kind with it without storing it (as a zstd dictionary, but far
    stronger); decoding needs the same file, named by its SHA-256 in each archive."""
    from .dataset import train_model
    from .modelfile import load

    progress = not o["quiet"] and click.get_text_stream("stderr").isatty()
    o.update(recursive=recursive, files_from=None, output=None, no_fallback=False, progress=progress)
    if o.get("pure"):
        raise click.UsageError("--pure does not apply to a model file")
    if o.get("model") is not None:
        raise click.UsageError("--model and --no-model do not apply to train (it always trains a model)")
    files = _inputs(samples, o, compressing=True)

    def work(_: str) -> None:
        if os.path.lexists(output) and not force:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), output)
        blob = train_model([(member_name(p), _read(p)) for p in files], o["level"], records_kind=records, **options)
        if blob is None:  # another rank of a distributed training: rank 0 writes
            return
        _write(output, blob, STDIO)
        if not o["quiet"]:
            model = load(blob)
            cfg = model.qm.cfg
            click.echo(f"{output}: model {cfg.n_layer} x {cfg.n_embd}, context {cfg.block_size}, "
                       f"{model.qm.num_nonzero():,} nonzero weights, {model.size:,} bytes, sha256 {model.sha256}",
                       err=True)

    with _ranks(files, o, one_run=True):
        options = {k: v for k, v in compress_options(o).items() if k not in ("fallback", "pure", "model")}
        sys.exit(_each((output,), work, o["quiet"]))


def safe_member_path(directory: str, name: str) -> str:
    """Where member `name` is extracted under `directory`; absolute names and '..' are refused, as tar does."""
    parts = name.split("/")
    if not name or name.startswith("/") or os.path.isabs(name) or ".." in parts or "\0" in name:
        raise click.FileError(name, "unsafe member name (absolute, or with '..'): not extracted")
    return os.path.join(directory, *[p for p in parts if p not in ("", ".")])


@main.command(epilog=EXIT)
@click.argument("archive", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("names", nargs=-1)
@click.option("-C", "--directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Extract into this directory.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing files.")
@click.option("-v", "--verbose", count=True, help="Name each member extracted.")
@THREADS
@DEVICE
@MEMLIMIT
@MODEL_FILE
def extract(archive: str, names: tuple[str, ...], directory: str, force: bool, verbose: int, threads, device: str,
            memlimit: int, model_file: str | None) -> None:
    """Extract the members of a multi-member ARCHIVE (all, or the NAMEs) into files under -C DIR.
    Only the blocks of the members asked for are decoded; each member's CRC-32 is checked."""
    from .dataset import Dataset

    def work(path: str) -> None:
        with Dataset(_read(path, archive=True), device=device, threads=threads, memlimit=memlimit,
                     model_file=_model_file(model_file)) as ds:
            missing = [n for n in names if n not in ds.names]
            if missing:
                raise click.FileError(missing[0], "not in the archive")
            for name in names or ds.names:
                dest = safe_member_path(directory, name)
                if os.path.lexists(dest) and not force:
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
                data = ds.member(name)
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                _write(dest, data, STDIO)
                if verbose:
                    click.echo(name, err=True)

    sys.exit(_each((archive,), work))


@main.command(epilog=EXIT)
@click.argument("archive", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("names", nargs=-1)
@click.option("--record", "record", metavar="I|START:STOP", help="Records by 0-based number, or a Python slice "
              "(1000:1010 is records 1000 ... 1009), of all the archive's records in order.")
@THREADS
@DEVICE
@MEMLIMIT
@MODEL_FILE
def cat(archive: str, names: tuple[str, ...], record: str | None, threads, device: str, memlimit: int,
        model_file: str | None) -> None:
    """Write members (all, or the NAMEs) or records (--record) of a multi-member ARCHIVE to standard
    output, decoding only the blocks that hold them."""
    from .dataset import Dataset

    if record is not None and names:
        raise click.UsageError("give member NAMEs or --record, not both")
    picked = _record_slice(record) if record is not None else None

    def work(path: str) -> None:
        out = click.get_binary_stream("stdout")
        with Dataset(_read(path, archive=True), device=device, threads=threads, memlimit=memlimit,
                     model_file=_model_file(model_file)) as ds:
            if picked is not None:
                for data in ([ds[picked]] if isinstance(picked, int) else ds[picked]):
                    out.write(data)
            else:
                missing = [n for n in names if n not in ds.names]
                if missing:
                    raise click.FileError(missing[0], "not in the archive")
                for name in names or ds.names:
                    out.write(ds.member(name))
        out.flush()

    sys.exit(_each((archive,), work))


def _record_slice(text: str) -> int | slice:
    """'7' -> 7; '1000:1010' -> slice(1000, 1010); '::2', '-5:' as Python reads them."""
    try:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
        if len(parts) == 1 and parts[0] is not None:
            return parts[0]
        if 2 <= len(parts) <= 3 and parts[2:] != [0]:
            return slice(*parts)
    except ValueError:
        pass
    raise click.BadParameter(f"{text!r} is neither a record number nor START:STOP", param_hint="--record")


def _pairs(text: str) -> dict:
    """'k=v,k2=v2' -> {k: v, k2: v2}, values read as JSON where they parse (1e-4, true), else strings."""
    out = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.replace("-", "_")] = value
    return out


@main.command(epilog=EXIT)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_options(*[click.option(f"-{n}", "levels", flag_value=n, multiple=True, hidden=2 <= n <= 8,
                         help={1: "Levels to run, several allowed (-1 ... -9; default -6).",
                               9: "The largest level."}.get(n))
            for n in range(1, 10)])
@click.option("--pure", is_flag=True, help="Pass pure=True: the transformer alone (the seed's two-part code).")
@click.option("--regularizer", type=click.Choice(REGULARIZERS), help="Pass this regularizer.")
@click.option("-O", "--option", "option", multiple=True, metavar="KEY=VALUE",
              help="Pass a keyword option of compress_with_report to every configuration (repeatable).")
@click.option("--variant", multiple=True, metavar="K=V[,K=V]",
              help="One more configuration per level with these options (repeatable; none: the options alone).")
@click.option("--baselines", metavar="A,B,...", help="Baselines to run (default: all installed; an unknown name "
              "lists them).")
@click.option("--chunk", type=click.IntRange(min=1),
              help="Chunk length of the per-chunk baselines (default: the default level's context).")
@click.option("--prequential", is_flag=True, help="Also measure the prequential code length (retrains per block).")
@click.option("--first-block", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Prequential: bytes of the first, uniformly coded block.")
@click.option("--no-isolate", is_flag=True, help="Run mdlzip in this process (faster; earlier jobs may skew the peaks).")
@click.option("--json", "json_out", type=click.File("w", lazy=True), help="Also write the result as JSON here.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), help="Write bpb.png and sizes.png here.")
@THREADS
@DEVICE
@click.option("--no-fallback", is_flag=True, help="Measure the model's archive even where a classical one is smaller.")
def bench(paths: tuple[str, ...], levels: tuple[int, ...], pure: bool, regularizer: str | None,
          option: tuple[str, ...], variant: tuple[str, ...], baselines: str | None, chunk: int | None, prequential: bool,
          first_block: int, no_isolate: bool, json_out, plot_dir: str | None, threads: int | None, device: str,
          no_fallback: bool) -> None:
    """Compress, decompress and verify each file (directories: the files under them, sorted) with
    each mdlzip configuration and the baselines; print Markdown tables (JSON schema: mdlzip.lab.bench)."""
    from .lab.bench import CHUNK, Config, format_table, run_bench

    common = _pairs(",".join(option)) | ({"pure": True} if pure else {}) | (
        {"regularizer": regularizer} if regularizer else {})
    variants = [common | _pairs(v) for v in variant] or [common]
    configs = [Config(level, options) for level in sorted(set(levels or (DEFAULT_LEVEL,))) for options in variants]
    try:
        result = run_bench(paths, configs, baselines=baselines.split(",") if baselines else None, chunk=chunk or CHUNK,
                           isolate=not no_isolate, prequential=first_block if prequential else None, device=device,
                           threads=threads, fallback=not no_fallback, progress=click.get_text_stream("stderr").isatty())
        if plot_dir:
            from .lab.plots import plot_bench
            plot_bench(result, plot_dir)
    except (*FAILURES, ImportError) as exc:
        _error("bench", exc)
        sys.exit(1)
    click.echo(format_table(result))
    if json_out:
        json.dump(result, json_out, indent=2)
