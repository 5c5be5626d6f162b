"""load_text: good files load; every kind of bad file gets a ValueError naming the file."""

from pathlib import Path

import pytest

from bpttviz.engine.data import load_text


def _write(tmp_path: Path, data: bytes, name: str = "corpus.txt") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_reads_utf8_and_normalises_line_endings(tmp_path):
    p = _write(tmp_path, "caf\u00e9\r\nna\u00efve\rend\n".encode())
    assert load_text(p) == "caf\u00e9\nna\u00efve\nend\n"


def test_drops_a_utf8_bom(tmp_path):
    p = _write(tmp_path, b"\xef\xbb\xbfhello")
    assert load_text(p) == "hello"


def test_empty_file_is_refused_with_its_name(tmp_path):
    p = _write(tmp_path, b"", "nothing.txt")
    with pytest.raises(ValueError, match=r"nothing\.txt.*empty"):
        load_text(p)


def test_whitespace_only_file_is_refused(tmp_path):
    p = _write(tmp_path, b" \n\t\n", "blank.txt")
    with pytest.raises(ValueError, match=r"blank\.txt.*whitespace"):
        load_text(p)


def test_nul_bytes_mean_binary_and_the_offset_is_given(tmp_path):
    p = _write(tmp_path, b"abc\x00def", "image.png")
    with pytest.raises(ValueError, match=r"image\.png.*binary.*NUL byte at byte offset 3"):
        load_text(p)


def test_bad_utf8_names_the_byte_offset(tmp_path):
    p = _write(tmp_path, b"hello \xff world", "latin1.txt")
    with pytest.raises(ValueError, match=r"latin1\.txt.*not valid UTF-8.*0xff.*offset 6"):
        load_text(p)


def test_bad_utf8_offset_counts_the_bom(tmp_path):
    p = _write(tmp_path, b"\xef\xbb\xbfab\xc3(", "bom.txt")
    with pytest.raises(ValueError, match=r"offset 5"):
        load_text(p)


def test_too_large_is_refused_with_the_limit(tmp_path):
    p = _write(tmp_path, b"x" * 11, "big.txt")
    with pytest.raises(ValueError, match=r"big\.txt.*too large.*11 bytes.*max_bytes=10"):
        load_text(p, max_bytes=10)


def test_exactly_max_bytes_is_accepted(tmp_path):
    p = _write(tmp_path, b"x" * 10)
    assert load_text(p, max_bytes=10) == "x" * 10


def test_bad_max_bytes_is_named(tmp_path):
    p = _write(tmp_path, b"x")
    with pytest.raises(ValueError, match=r"max_bytes must be an int >= 1, got 0"):
        load_text(p, max_bytes=0)


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_text(tmp_path / "absent.txt")
