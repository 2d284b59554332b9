"""The corpora registry and its checked loader (the shared corpora are used only when present)."""
from __future__ import annotations

import pytest
from conftest import CORPORA

from mdlzip.lab import corpora
from mdlzip.lab.corpora import (
    REGISTRY,
    SOURCES,
    CorpusError,
    CorpusNotFoundError,
    find_corpus,
)


def test_registry_is_consistent():
    assert len(REGISTRY) == len(corpora.files()) >= 60
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.collection in SOURCES and entry.size > 0
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
    assert {"canterbury", "calgary", "enwik8", "silesia"} <= {c.collection for c in REGISTRY.values()}
    assert corpora.files("calgary")[0] == "calgary/bib" and all(n.startswith("calgary/") for n in corpora.files("calgary"))
    with pytest.raises(KeyError):
        corpora.files("nope")


def test_finds_verifies_and_explains(tmp_path, monkeypatch):
    monkeypatch.setenv("MDLZIP_CORPORA", str(tmp_path))
    name = "canterbury-artificial/a.txt"  # the one-byte file "a": its sha256 is well known
    with pytest.raises(CorpusNotFoundError, match="set MDLZIP_CORPORA"):
        corpora.load(name)
    (tmp_path / "canterbury-artificial").mkdir()
    (tmp_path / name).write_bytes(b"a")
    assert corpora.root() == tmp_path and corpora.load(name) == b"a"
    (tmp_path / name).write_bytes(b"b")
    with pytest.raises(CorpusError, match="sha256"):
        find_corpus(name)
    (tmp_path / name).write_bytes(b"aa")
    with pytest.raises(CorpusError, match="expected 1"):
        find_corpus(name)
    with pytest.raises(KeyError):
        find_corpus("canterbury/not-a-file")


def test_shared_corpora_verify():
    name = "canterbury/grammar.lsp"
    if not (CORPORA / name).is_file():
        pytest.skip(f"shared corpora not present under {CORPORA}")
    assert len(corpora.load(name, CORPORA)) == REGISTRY[name].size
