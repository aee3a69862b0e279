"""Text decoding: BOMs, UTF-8, GB18030/GBK vs Big5, binary refusal, streaming."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from app.documents.textfile import TextDecodeError, decode_bytes, iter_text, read_text

SIMPLIFIED = "我们今天去北京参观了故宫和长城，这是一个非常美好的经历。"
TRADITIONAL = "我們今天去北京參觀了故宮和長城，這是一個非常美好的經歷。"


@pytest.mark.parametrize(("encoding", "text", "expected"), [
    ("utf-8", "plain ascii and ünïcödé", "utf-8"),
    ("gbk", SIMPLIFIED, "gb18030"),
    ("gb18030", SIMPLIFIED, "gb18030"),
    ("big5", TRADITIONAL, "big5"),
    ("utf-16", "UTF-16 with a BOM 你好", "utf-16"),
    ("utf-8-sig", "UTF-8 with a BOM 你好", "utf-8-sig"),
])
def test_encodings_are_detected(encoding: str, text: str, expected: str) -> None:
    decoded = decode_bytes(text.encode(encoding))
    assert decoded.text == text
    assert decoded.encoding == expected


def test_binary_data_is_refused() -> None:
    with pytest.raises(TextDecodeError):
        decode_bytes(bytes(range(256)) * 10)


def test_streaming_never_splits_a_character(tmp_path: Path) -> None:
    text = SIMPLIFIED * 20000  # about 1.7 MB in GB18030, crossing many 1 MiB block edges
    path = tmp_path / "big.txt"
    path.write_bytes(text.encode("gb18030"))
    blocks = list(iter_text(path, block_bytes=4097))  # an odd size to cut inside characters
    assert "".join(blocks) == text
    assert all("\ufffd" not in b for b in blocks)


def test_read_text_strips_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"hello")
    assert read_text(path).text == "hello"
