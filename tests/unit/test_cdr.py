from callcenter.live.events import CallEnded
from callcenter.telephony.cdr import CdrReader, parse_lines

LINE = (
    '"dev-1.5","dev-1.5","PJSIP/9001-00000003","9001","""Budi"" <9001>","public","112",'
    '"1795338000.100","1795338030.5","NO ANSWER"'
)


def test_112_calls_are_read_with_their_times():
    (event,) = parse_lines([LINE])
    assert isinstance(event, CallEnded)
    assert event.call.unique_id == "dev-1.5" and event.call.caller_name == "Budi"
    assert event.started_at is not None and (event.at - event.started_at).total_seconds() == 30.4


def test_other_lines_are_skipped_not_fatal():
    assert (
        parse_lines(
            [
                LINE.replace('"112"', '"2001"'),
                LINE.replace("PJSIP/9001-00000003", "Local/112@public-0000;1"),
                '"too","few"',
                LINE.replace('"1795338030.5"', '"yesterday"'),
                "\x00\x01garbage",
            ]
        )
        == []
    )


def test_reader_takes_only_new_whole_lines(tmp_path):
    path = tmp_path / "Master.csv"
    reader = CdrReader(path)
    assert reader.read_new() == []
    path.write_text(LINE + "\n" + LINE.replace("dev-1.5", "dev-1.6")[:20])
    assert len(reader.read_new()) == 1
    with path.open("a") as f:
        f.write(LINE.replace("dev-1.5", "dev-1.6")[20:] + "\n")
    (event,) = reader.read_new()
    assert event.call.unique_id == "dev-1.6"
