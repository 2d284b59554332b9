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
import sys
import tempfile
from collections.abc import Callable

import click

from . import __version__, api
from .errors import Interrupted, MdlzipError, OptionError
from .levels import CLASSICAL_LEVEL, DEFAULT_LEVEL
from .levels import LEVELS as LEVELS_TABLE  # LEVELS here: the -1 ... -9 options
from .memory import DEFAULT_MEMLIMIT, format_size, parse_memlimit
from .options import TRAIN_KEYS, CompressOptions
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


def _write(dest: str | None, data: bytes, src: str) -> None:
    """Write stdout, or a temporary file beside `dest` that replaces it only once complete."""
    if dest is None:
        stdout = click.get_binary_stream("stdout")
        stdout.write(data)
        stdout.flush()
        return
    f = tempfile.NamedTemporaryFile(dir=os.path.dirname(dest) or ".", prefix=f".{os.path.basename(dest)}.",
                                    suffix=".tmp", delete=False)
    try:
        with f:
            f.write(data)
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
    click.option("--model", is_flag=True, help="Train the transformer and mix it in also where the level would not."),
    click.option("--regularizer", type=click.Choice(REGULARIZERS), help="Sparsity method (default: the level's)."),
    click.option("--alpha", type=AlphaType(), help="Regularization strength, or 'auto': chosen by description length."),
    click.option("--beta", type=click.FloatRange(min=0, min_open=True), help="DRR sharpness (penalty 1 - exp(-beta |w|))."),
    click.option("--tolerance", type=click.FloatRange(min=0), help="TAMADE: relative training-loss increase allowed."),
    click.option("--prelude", "prelude_frac", type=click.FloatRange(0, 1), help="Fraction of the steps before regularizing."),
    click.option("--finetune", "finetune_frac", type=click.FloatRange(0, 1), help="Fraction of the steps after pruning."),
    click.option("--lump-eps", type=click.FloatRange(min=0), help="Lump MLP neurons equal within this L1 tolerance."))
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
    given = {k: o[k] for k in (*TRAIN_KEYS, "lump_eps") if o.get(k) is not None}
    given.update({flag: True for flag in ("pure", "model") if o.get(flag)})
    given.update(device=o["device"], threads=o["threads"], fallback=not o["no_fallback"], progress=o["progress"])
    try:
        CompressOptions.from_keywords("compress", given)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    return given


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
    """The inputs (-r, --files), checked against the output options; decide on progress bars."""
    if o["recursive"] and (o.get("to_stdout") or o.get("output")):
        raise click.UsageError("-r writes each file beside itself: not with -c or -o")
    files = _inputs(files, o, compressing)
    if o.get("output") and (o["to_stdout"] or len(files) > 1):
        raise click.UsageError("-o takes one input file, and not with -c")
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
def compress(files: tuple[str, ...], **o) -> None:
    """Compress FILEs to FILE.mdlz (no FILE, or -: stdin to stdout). One line per file on stderr
    (none when writing to stdout); -v: the itemized MDL report; --json: the full report on stdout.

    A FILE already ending in .mdlz is skipped with a warning (exit status 2). A model option
    (--regularizer, --alpha, ..., --lump-eps) trains a model where the level would not."""
    files = _prepare(files, o, compressing=True)
    options = compress_options(o)
    reports = []

    def work(path: str) -> bool:
        if path != STDIO and path.endswith(SUFFIX) and not (o["to_stdout"] or o["output"]):
            if not o["quiet"]:
                click.echo(f"mdlzip: {path}: already has '{SUFFIX}' suffix, skipping", err=True)
            return True
        dest = _target(path, o, lambda p: p + SUFFIX)
        if dest is None and not o["force"] and click.get_binary_stream("stdout").isatty():
            raise click.FileError("(stdout)", "compressed data not written to a terminal. Use -f to force.")
        archive, report = api.compress_with_report(_read(path), o["level"], **options)
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
def decompress(files: tuple[str, ...], **o) -> None:
    """Decompress FILE.mdlz to FILE (no FILE, or -: stdin to stdout)."""
    files = _prepare(files, o)

    def work(path: str) -> None:
        dest = _target(path, o, _strip)
        data = api.decompress(_read(path, archive=True), device=o["device"], threads=o["threads"],
                              progress=o["progress"], memlimit=o["memlimit"])
        _write(dest, data, path)
        _finish(path, dest, o)

    sys.exit(_each(files, work, o["quiet"]))


@main.command("test", epilog=EXIT)
@FILES
@CODING
@MEMLIMIT
def test_(files: tuple[str, ...], **o) -> None:
    """Decode FILEs (no FILE, or -: stdin) and verify their checksums; write nothing."""
    files = _prepare(files, o)

    def work(path: str) -> None:
        data = api.decompress(_read(path, archive=True), device=o["device"], threads=o["threads"],
                              progress=o["progress"], memlimit=o["memlimit"])
        if o["verbose"] > o["quiet"]:
            click.echo(f"{_name(path)}: OK, {len(data):,} bytes", err=True)

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

    def work(path: str) -> None:
        members = api.info_all(_read(path, archive=True), memlimit)
        for k, meta in enumerate(members, 1):
            shown(meta, _name(path) + (f"[{k}]" if len(members) > 1 else ""))

    def shown(meta: api.ArchiveInfo, name: str) -> None:
        rows.append(dict(meta.to_dict(), file=name))
        if as_json:
            return
        ratio = f"{meta.archive_bytes / meta.original_bytes:.3f}" if meta.original_bytes else "---"
        params = f"{meta.params:,}({meta.nonzeros:,})" if meta.nonzeros is not None else \
            f"{meta.params:,}(?)" if meta.params is not None else "-"
        click.echo(line(f"{meta.archive_bytes:,}", f"{meta.original_bytes:,}", ratio, meta.method, params, "CRC32", name))
        for part, n in meta.sizes.items() if verbose else ():
            click.echo(f"    {part:<10} {n:>12,} bytes{TERMS.get(part, '')}")
        if verbose:
            over = f", over the limit of {format_size(memlimit)}" if memlimit and meta.memory_needed > memlimit else ""
            click.echo(f"    memory needed to decode: {format_size(meta.memory_needed)}{over}")
        if verbose and meta.model:
            click.echo("    model      " + " ".join(f"{k}={v}" for k, v in meta.model.items()))

    failed = _each(files, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    sys.exit(failed)


main.add_command(info, "list")  # as `zstd -l` and `mdlzip -l`


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
