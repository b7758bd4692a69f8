"""The CRI log format: lines split into their four fields, partial lines joined."""
import pytest

from labkit import cri_log
from labkit.cri_log import LogLine
from labkit.errors import LabError
from labkit.exercises import cri as exercises


@pytest.mark.parametrize("line,want", exercises.LOG_CASES)
def test_parse_line(line, want):
    assert tuple(cri_log.parse_line(line)) == want


def test_an_empty_full_line_may_lose_its_trailing_space():
    assert cri_log.parse_line("2026-01-05T10:00:02Z stdout F").text == ""


def test_a_tag_may_carry_more_after_a_colon():
    assert cri_log.parse_line("2026-01-05T10:00:02Z stdout F:x hi").tag == "F"


@pytest.mark.parametrize("bad", ["hello world", "2026-01-05T10:00:02Z stdin F hi", "2026-01-05T10:00:02Z stdout X hi"])
def test_not_a_cri_line(bad):
    with pytest.raises(LabError):
        cri_log.parse_line(bad)


def test_partial_pieces_join_per_stream():
    lines = [LogLine("t1", "stdout", "P", "ab"), LogLine("t2", "stderr", "F", "oops"),
             LogLine("t3", "stdout", "P", "cd"), LogLine("t4", "stdout", "F", "ef"),
             LogLine("t5", "stdout", "F", "")]
    assert cri_log.messages(lines) == [("stderr", "oops"), ("stdout", "abcdef"), ("stdout", "")]


def test_a_line_cut_off_by_the_container_dying_is_kept():
    assert cri_log.messages([LogLine("t", "stdout", "P", "half")]) == [("stdout", "half")]


def test_read_a_file(tmp_path):
    path = tmp_path / "0.log"
    path.write_text("2026-01-05T10:00:00Z stdout F one\n2026-01-05T10:00:01+00:00 stderr F two words\n")
    assert [(ln.stream, ln.text) for ln in cri_log.read(path)] == [("stdout", "one"), ("stderr", "two words")]


def test_the_checker_reference_agrees_with_the_cases():
    parse = exercises.reference_parser()
    assert all(parse(line) == want for line, want in exercises.LOG_CASES)
