"""Reading text files whose encoding nobody wrote down.

Many of our users have files in GBK/GB18030 or Big5 as well as UTF-8 and UTF-16.
Order of evidence: a byte-order mark; strict UTF-8; then, for legacy CJK encodings,
whichever of GB18030 and Big5 decodes cleanly into more common CJK characters
(charset-normalizer alone confuses the two on short texts); last, charset-normalizer.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 256 * 1024

# Very common characters in Simplified (GB) and Traditional (Big5) Chinese text.
_COMMON_SIMPLIFIED = set(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里"
    "用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实"
    "日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政"
    "美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员"
    "解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件"
    "计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象"
    "完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笔"
)
_COMMON_TRADITIONAL = set(
    "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於著下自之年過發後作裡"
    "用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進好小部其些主樣理心她本前開但因只從想實"
    "日軍者意無力它與長把機十民第公此已工使情明性知全三又關點正業外將兩高間由問很最重並物手應戰向頭文體政"
    "美相見被利什二等產或新己製身果加西斯月話合回特代內信表化老給世位次度門任常先海通教兒原東聲提立及比員"
    "解水名真論處走義各入幾口認條平系氣題活爾更別打女變四神總何電數安少報才結反受目太量再感建務做接必場件"
    "計管期市直德資命山金指克許統區保至隊形社便空決治展馬科司五基眼書非則聽白卻界達光放強即像難且權思王象"
    "完設式色路記南品住告類求據程北邊死張該交規萬取拉格望覺術領共確傳師觀清今切院讓識候帶導爭運筆"
)


class TextDecodeError(ValueError):
    """The bytes are not text in any encoding we recognise (probably a binary file)."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def looks_binary(sample: bytes) -> bool:
    """NUL bytes outside a UTF-16/32 file, or many control bytes, mean 'not text'."""
    if not sample:
        return False
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(sample) * 0.02


def detect_encoding(sample: bytes) -> str:
    """Best encoding for ``sample`` (the start of a file); raises TextDecodeError for binary data."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return name
    if looks_binary(sample):
        raise TextDecodeError("this looks like a binary file, not text")
    if _decodes(sample, "utf-8"):
        return "utf-8"
    scores = {name: _cjk_score(sample, name, common)
              for name, common in (("gb18030", _COMMON_SIMPLIFIED), ("big5", _COMMON_TRADITIONAL))}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] > 0:
        return best
    try:
        from charset_normalizer import from_bytes  # noqa: PLC0415

        match = from_bytes(sample).best()
    except ImportError:  # pragma: no cover - a dependency, but never fatal
        match = None
    if match is not None and match.encoding:
        return str(match.encoding)
    raise TextDecodeError("the text encoding could not be recognised")


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _cjk_score(sample: bytes, encoding: str, common: set[str]) -> float:
    """Fraction of decoded CJK characters that are common ones; -1 if it does not decode."""
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample[: 64 * 1024], final=False)
    except UnicodeDecodeError:
        return -1.0
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not cjk:
        return 0.0
    return sum(ch in common for ch in cjk) / len(cjk)


def decode_bytes(data: bytes) -> DecodedText:
    """Decode a whole (small) file's bytes."""
    encoding = detect_encoding(data[:SNIFF_BYTES])
    text = data.decode(encoding, errors="replace")
    return DecodedText(text.lstrip("\ufeff"), encoding)


def read_text(path: Path) -> DecodedText:
    """Read a text file of reasonable size completely."""
    return decode_bytes(Path(path).read_bytes())


def iter_text(path: Path, block_bytes: int = 1 << 20) -> Iterator[str]:
    """Stream a (possibly huge) text file as decoded blocks; multi-byte characters never split."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
        encoding = detect_encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        first = decoder.decode(head)
        if first:
            yield first.lstrip("\ufeff")
        while True:
            block = handle.read(block_bytes)
            if not block:
                break
            text = decoder.decode(block)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
