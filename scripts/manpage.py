"""Write docs/mdlzip.1, the man page, from the click definitions of the command (so it never
drifts from `mdlzip --help`; tests/test_idioms.py checks that the committed page is current).

    python scripts/manpage.py [--check]
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from mdlzip import __version__
from mdlzip.cli import EXIT, main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "mdlzip.1"


def _roff(text: str) -> str:
    """Plain text as roff: backslashes and leading dots or quotes escaped."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    """A docstring's paragraphs, each on one line (roff fills them), with .PP between."""
    out = []
    for para in inspect.cleandoc(text.replace("\b", "")).split("\n\n"):
        out += ([".PP"] if out else []) + [_roff(" ".join(para.split()))]
    return out


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record:
            out += [".TP", f"\\fB{_roff(record[0])}\\fR", _roff(record[1])]
    return out


def page() -> str:
    ctx = click.Context(main, info_name="mdlzip")
    lines = [f'.TH MDLZIP 1 "" "mdlzip {__version__}" "User Commands"', ".SH NAME",
             "mdlzip \\- lossless compression by Minimum Description Length", ".SH SYNOPSIS",
             "\\fBmdlzip\\fR [\\fB\\-z\\fR|\\fB\\-d\\fR|\\fB\\-t\\fR|\\fB\\-l\\fR] [\\fIOPTIONS\\fR] [\\fIFILE\\fR...]",
             ".br", "\\fBmdlzip\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIFILE\\fR...]", ".SH DESCRIPTION",
             *_paragraphs(main.help or ""), ".PP", *_paragraphs(main.epilog or "")]
    for name in sorted(main.commands):
        command = main.commands[name]
        if name != command.name:  # an alias: said with its command
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        lines += [f".SH COMMAND: {name.upper()}", *_paragraphs(command.help or "")] + _options(command, sub)
    lines += [".SH EXIT STATUS", _roff(EXIT.removeprefix("Exit status: ")),
              ".SH SHELL COMPLETION", "bash: \\fBeval \"$(_MDLZIP_COMPLETE=bash_source mdlzip)\"\\fR;",
              "zsh: \\fBeval \"$(_MDLZIP_COMPLETE=zsh_source mdlzip)\"\\fR;",
              "fish: \\fB_MDLZIP_COMPLETE=fish_source mdlzip | source\\fR.",
              ".SH SEE ALSO", "\\fBxz\\fR(1), \\fBzstd\\fR(1); FORMAT.md (the archive format) and README.md."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = page()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if PAGE.exists() and PAGE.read_text() == text else "docs/mdlzip.1 is stale: run scripts/manpage.py")
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(text)
