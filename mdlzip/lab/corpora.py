"""The standard public corpora: a registry (name, size, sha256, source) and a checked loader.

The files are never shipped with mdlzip. `load("canterbury/alice29.txt")` reads one from
`$MDLZIP_CORPORA`, else from `../shared/corpora` beside the repository when that exists, and
verifies its size and sha256 first. Names are paths relative to that directory; a collection is
the first part (`files("calgary")`).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from ..errors import MdlzipError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"  # beside the repository (../shared)


class Corpus(NamedTuple):
    name: str  # path under the corpora directory
    size: int
    sha256: str
    what: str

    @property
    def collection(self) -> str:
        return self.name.split("/")[0]


SOURCES = {  # collection -> where the public originals are
    "canterbury": "https://corpus.canterbury.ac.nz/descriptions/#cantrbry",
    "calgary": "https://corpus.canterbury.ac.nz/descriptions/#calgary",
    "canterbury-large": "https://corpus.canterbury.ac.nz/descriptions/#large",
    "canterbury-artificial": "https://corpus.canterbury.ac.nz/descriptions/#artificl",
    "canterbury-misc": "https://corpus.canterbury.ac.nz/descriptions/#misc",
    "enwik8": "http://mattmahoney.net/dc/textdata.html (Large Text Compression Benchmark)",
    "silesia": "https://sun.aei.polsl.pl/~sdeor/index.php?page=silesia (first 1 MiB of each file)",
    "snappy-testdata": "https://github.com/google/snappy (testdata/)",
    "json": "https://github.com/simdjson/simdjson-data (jsonexamples/)",
    "csv": "https://github.com/mwaskom/seaborn-data",
    "logs": "https://github.com/logpai/loghub (first 2000 lines)",
    "dna": "https://github.com/DaehwanKimLab/hisat2 (example/reference)",
    "text-multilingual": "Project Gutenberg and public-domain texts, via https://github.com/AdamGleave/UnicodeCompressor",
}

REGISTRY: dict[str, Corpus] = {c.name: c for c in [
    Corpus('canterbury/alice29.txt', 152089, "7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0",
           'English text (Alice in Wonderland)'),
    Corpus('canterbury/asyoulik.txt', 125179, "eaa3526fe53859f34ecdf255712f9ecf0b2c903451d4755b2edaa2e2599cb0fc",
           'Shakespeare play (As You Like It)'),
    Corpus('canterbury/cp.html', 24603, "e0cd21cef5b6c4069461e949be100080c3ce887de6f1dd8626c480528efaaf61",
           'HTML source'),
    Corpus('canterbury/fields.c', 11150, "85d73e354cc50cec76cb5a50537cf8dc035f8cbb8480f9e1cbe2f7d6c23393c7",
           'C source'),
    Corpus('canterbury/grammar.lsp', 3721, "1b0805dfc0ae706b35aac2bb4e15f02485efd24dda5dbd29de7b2f84d1a88c15",
           'LISP source'),
    Corpus('canterbury/kennedy.xls', 1029744, "9af47239ca29dfe20e633f80bbbb9a4cc9783d0803d7b2b5626f42e4c3790420",
           'Excel spreadsheet'),
    Corpus('canterbury/lcet10.txt', 426754, "5314ba1dbb03f471df88bec6cd120a938ef60d0fd3511c5c1dce61bf7463245f",
           'technical writing'),
    Corpus('canterbury/plrabn12.txt', 481861, "07e2e0b461af78c7c647cb53dab39de560198e16f799b4516eccf0fbd69f764c",
           'poetry (Paradise Lost)'),
    Corpus('canterbury/ptt5', 513216, "0ec3a75089bb52342813496b17e51377bc9eba3cb519a444d67025354841d650",
           'CCITT fax test image'),
    Corpus('canterbury/sum', 38240, "ee5733cd76ecc2f9d8ff156adc3c02a7a851051dcf43a2d56ff4ee4ff606bdb3",
           'SPARC executable'),
    Corpus('canterbury/xargs.1', 4227, "c58aeb5d2d1e12751d47e7412b45784405fc30a5671b03d480fa05776e183619",
           'GNU manual page (troff)'),
    Corpus('calgary/bib', 111261, "0f1a13936e358191533aca4a32ff42906d1b7f641f3afb0a90458b2410419fcf",
           'bibliography (refer format)'),
    Corpus('calgary/book1', 768771, "9ffa47cd93bccd732f20e0c304203cfbc1b8a91bedac536e2d8f6051003d9951",
           'fiction book (Hardy, Far from the Madding Crowd)'),
    Corpus('calgary/book2', 610856, "c8538730cf2ce6a243acf3eb299c43d619b5c695d892f4884df796c13081fdf8",
           'non-fiction book (troff)'),
    Corpus('calgary/geo', 102400, "913ff6f45610599020c02f543a0d5a1f46cf772412e25a568b683d23db8c447d",
           'geophysical data (binary)'),
    Corpus('calgary/obj1', 21504, "8c06109caffd7e794516e4ed10095b0238ea8df63ed66840907cd4dd23e2cf72",
           'VAX object code'),
    Corpus('calgary/obj2', 246814, "8b3e7f028bfefaebdd48a791060a1ab11d1ffd9bf27e0d63b15e58dda0deb984",
           'Apple Mac object code'),
    Corpus('calgary/paper1', 53161, "8d9c42d9fa58b5bce1a8b5fae3cc27c9eb7cc7a032bc12a633d44e816497e143",
           'technical paper (troff)'),
    Corpus('calgary/paper2', 82199, "dc4b9cf68094c632a920f4e76d0a0a8b9617b624c36928ca46a5d29798c5bbbe",
           'technical paper (troff)'),
    Corpus('calgary/paper3', 46526, "c3e1ba94849992147cf68531311cf6512c9032b88f548d3e2d62cb659aef19d8",
           'technical paper (troff)'),
    Corpus('calgary/paper4', 13286, "aeecc3ff5b2e497e35fbd2d2190627fff4818dabf7aee9734ac090c21b04739b",
           'technical paper (troff)'),
    Corpus('calgary/paper5', 11954, "7a4b1ee6aa419ca362a9bbae383287fe8fee4324c9d6aefa7e94b6d845452ee8",
           'technical paper (troff)'),
    Corpus('calgary/paper6', 38105, "8f38dd101a4e0c0e4acefec93d5da8198db593557e9e0019140e2dff24b1b080",
           'technical paper (troff)'),
    Corpus('calgary/pic', 513216, "0ec3a75089bb52342813496b17e51377bc9eba3cb519a444d67025354841d650",
           'black and white fax picture'),
    Corpus('calgary/progc', 39611, "151377a9d6aa9b7e872000269707a15e2b038c826340628e6f4d8b4db9ec3c19",
           'C source'),
    Corpus('calgary/progl', 71646, "9388db0cfb71ffbe5687d381819a5ff69cdd992d6931e0cf81a310a1caed0ba0",
           'LISP source'),
    Corpus('calgary/progp', 49379, "d0cd70ab5f7381a8584b25fa73b3608571a17ee1042cc5c546f63b904614d1bc",
           'Pascal source'),
    Corpus('calgary/trans', 93695, "117a00c6af3e1c57f20013a8f1b468158f70634f685a348bedb7e4069cdd576a",
           'transcript of terminal session'),
    Corpus('canterbury-large/bible.txt', 4047392, "4e0a7e8dff7d9c82dbded57305c0ca3cdd3c4ca014db27121782fe9710f4723f",
           'King James Bible'),
    Corpus('canterbury-large/world192.txt', 2473400, "1aebdc97d29904b25791da9aa32be90b69d7da6dc0ac9b95512ed27ed40d2112",
           'CIA World Factbook 1992 (CRLF line ends)'),
    Corpus('canterbury-artificial/a.txt', 1, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
           'single byte "a"'),
    Corpus('canterbury-artificial/aaa.txt', 100000, "6d1cf22d7cc09b085dfc25ee1a1f3ae0265804c607bc2074ad253bcc82fd81ee",
           '100000 x "a"'),
    Corpus('canterbury-artificial/alphabet.txt', 100000, "bc634ceb27746878af610424e3afd5024f31e06f1f3479deda6cb33a21258bf7",
           'repeated alphabet'),
    Corpus('canterbury-artificial/random.txt', 100000, "f939ba0ca704df5e4665fca1d934411c856cf4409898c276ed26a3e591729201",
           'random characters from a 64-symbol alphabet'),
    Corpus('canterbury-misc/pi.txt', 1000000, "387877db67fdddbde761c053c4376e0b411b10fd2b126fd8b1249963cb628877",
           'first 10^6 decimal digits of pi'),
    Corpus('enwik8/enwik8_off0_len3000000', 3000000, "72953fccfeb78e55251024bd6ffbe269d1d8d730ce2e4fb028117a3613c45aac",
           'the first 3,000,000 bytes of enwik8'),
    Corpus('silesia/dickens_off0_len1048576', 1048576, "afd479dd0e0339643530bf4ee3d10423265c515a06e7994bbe26ccba39aea9ab",
           'collected works of Charles Dickens, English text'),
    Corpus('silesia/mr_off0_len1048576', 1048576, "470f6baf5a1e97e0003e84ab6bebfa9ca680145630504b09c22d8653de91a4ac",
           '3-D magnetic resonance image, DICOM'),
    Corpus('silesia/nci_off0_len1048576', 1048576, "3d234780bf0ef1a8f13459589904c5f6b0abe8da8c3e2119f20201c6bea6010d",
           'chemical database of structures, text'),
    Corpus('silesia/ooffice_off0_len1048576', 1048576, "1ed1cfc6b104bb390188e22082608ac8a79b59e367cdbb82796d99b980a9e2bd",
           'OpenOffice.org 1.01 DLL, x86 executable'),
    Corpus('silesia/osdb_off0_len1048576', 1048576, "79c5f0f50af5dbb61368cfb91f735545ccc4de12062f6b62cf7f2bcd4290ef14",
           'MySQL sample database (Open Source Database Benchmark), binary'),
    Corpus('silesia/reymont_off0_len1048576', 1048576, "fc42c772bf7961598b23936784396392710995c5273074d0f0aba226ef924e2a",
           'Reymont, Chlopi, uncompressed PDF, Polish text'),
    Corpus('silesia/xml_off0_len1048576', 1048576, "f0e6a94c2cda4d451675ced3fb34ddc6a9186a210df053eee123905f7119c1af",
           'collected XML files, tar'),
    Corpus('snappy-testdata/html', 102400, "5912445a6d50df1079f022d7e01fa615f5d128d53bad88acbf4f49e62a7ea759",
           'HTML page (Google snappy test corpus)'),
    Corpus('snappy-testdata/urls.10K', 702087, "0319ce7fe1f51b14eace3de879fe7da15418d1525d3176c2b26c5985943a3cad",
           '10000 URLs, text'),
    Corpus('snappy-testdata/fireworks.jpeg', 123093, "93b986ce7d7e361f0d3840f9d531b5f40fb6ca8c14d6d74364150e255f126512",
           'JPEG image (already compressed)'),
    Corpus('snappy-testdata/geo.protodata', 118588, "7c2875cd6d06c954240ba644618d1e1f2a167e4541731f019de5b4c1f8080f24",
           'protocol buffer data (binary)'),
    Corpus('snappy-testdata/kppkn.gtb', 184320, "1df7e44e4ec9bad952e7716fbdba0a2208665091866ded43407d03ed9ce23c24",
           'Go/game-tree binary table data'),
    Corpus('snappy-testdata/paper-100k.pdf', 102400, "60f73a051b7ca35bfec44734b2eed7736cb5c0b7f728beb7b97ade6c5e44849b",
           'first 100 KiB of a PDF'),
    Corpus('json/twitter.json', 631515, "30721e496a8d73cfc50658923c34eb2c0fbe15ee6835005e43ee624d8dedf200",
           'Twitter API search results (UTF-8, many non-ASCII)'),
    Corpus('json/citm_catalog.json', 1727204, "a73e7a883f6ea8de113dff59702975e60119b4b58d451d518a929f31c92e2059",
           'CITM event catalog'),
    Corpus('json/canada.json', 2251051, "f83b3b354030d5dd58740c68ac4fecef64cb730a0d12a90362a7f23077f50d78",
           'GeoJSON outline of Canada (numeric heavy)'),
    Corpus('csv/diamonds.csv', 2772143, "9574730b03aba241d899c4a97511c5061b19358fab89510774fb6c24168345c4",
           'ggplot2 diamonds dataset, 53940 rows'),
    Corpus('csv/brain_networks.csv', 1075911, "538dd9952e03837a78242494cee2583c3eaf3fe5978a60ebad05235bc60a0c82",
           'fMRI brain network time series, numeric'),
    Corpus('logs/Apache_2k.log', 171239, "c7efa3eb686e3a96bd2f8f4457b2a7887e9cf2f3649327f1b4e87af841363ce8",
           'real system log, first 2000 lines sample (Apache)'),
    Corpus('logs/HDFS_2k.log', 287848, "7c967000980c086ed55fa6544ba4f05fe66d44622795e890c68caf8bbb635035",
           'real system log, first 2000 lines sample (HDFS)'),
    Corpus('logs/Linux_2k.log', 216485, "b3e20bc1afe732ab1bf3ed1de4bf9c809e4194e02f7dea911d918e5342e8e173",
           'real system log, first 2000 lines sample (Linux)'),
    Corpus('logs/OpenStack_2k.log', 595119, "025a1bc64ff5b2ef4a4bda6c4ad5c5c5f18478b71cd1ad2b0676e01625629f2f",
           'real system log, first 2000 lines sample (OpenStack)'),
    Corpus('dna/22_20-21M.fa', 1016689, "5f20f32cf4233e45f91ad3ca2e7928a8b6594040522fe4275b876856c1d9944d",
           'FASTA, human chromosome 22, positions 20,000,001-21,000,000'),
    Corpus('text-multilingual/de_freytag_soll_und_haben.txt', 1104403, "72548eb79a4e2bd1fd3dc8bcde8bc437b0f80d7e2ba61857872f51c8046f7991",
           'German (UTF-8, CRLF): Gustav Freytag, Soll und Haben, Bd. 1'),
    Corpus('text-multilingual/zh_hua_yue_hen.txt', 742830, "b12c4fdc0391b885810ac545b698458693fc75ba5b2d963dafa95f372ccabf64",
           "Chinese (UTF-8, traditional characters, CRLF): Wei Zi'an, Hua Yue Hen"),
    Corpus('text-multilingual/ru_crime_and_punishment.txt', 1934112, "a465af684192a4b098394e6f8af2faf5b112ce993328c754dd58fb61e7101fb4",
           'Russian (UTF-8): Dostoevsky, Crime and Punishment'),
]}


class CorpusError(MdlzipError):
    """A registered corpus file is missing or does not match its checksum."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """The corpora directory or the file is not there."""


def root() -> Path:
    """The corpora directory: $MDLZIP_CORPORA, else ../shared/corpora beside the repository."""
    env = os.environ.get("MDLZIP_CORPORA")
    return Path(env) if env else SHARED


def files(collection: str | None = None) -> list[str]:
    """Registered names, all or of one collection, in registry order."""
    if collection is not None and collection not in SOURCES:
        raise KeyError(f"unknown collection {collection!r}; known: {', '.join(SOURCES)}")
    return [name for name, c in REGISTRY.items() if collection in (None, c.collection)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) whose checksum was checked


def find_corpus(name: str, directory: str | Path | None = None) -> Path:
    """The path of registered file `name` after checking its size and sha256 (once per process)."""
    if name not in REGISTRY:
        raise KeyError(f"{name!r} is not a registered corpus file (see mdlzip.lab.corpora.files())")
    entry, base = REGISTRY[name], Path(directory) if directory is not None else root()
    path = base / name
    if not path.is_file():
        raise CorpusNotFoundError(f"{name}: not found under {base} (set MDLZIP_CORPORA to the corpora "
                                  f"directory; the original is at {SOURCES[entry.collection]})")
    stat = path.stat()
    if _verified.get(path) != (stat.st_size, stat.st_mtime_ns):
        if stat.st_size != entry.size:
            raise CorpusError(f"{path}: {stat.st_size:,} bytes, expected {entry.size:,}")
        if sha256(path) != entry.sha256:
            raise CorpusError(f"{path}: sha256 does not match the registry (corrupt or a different version)")
        _verified[path] = (stat.st_size, stat.st_mtime_ns)
    return path


def load(name: str, directory: str | Path | None = None) -> bytes:
    """The bytes of registered file `name`, verified (`find_corpus`)."""
    return find_corpus(name, directory).read_bytes()
