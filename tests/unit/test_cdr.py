import pytest

from callcenter.live.facts import CallEnded
from callcenter.telephony.cdr import CallRecords, CdrReader, Position, parse_lines

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
    first = reader.read_from(Position())
    assert first.events == []
    path.write_text(LINE + "\n" + LINE.replace("dev-1.5", "dev-1.6")[:20])
    second = reader.read_from(first.end)
    assert len(second.events) == 1
    with path.open("a") as f:
        f.write(LINE.replace("dev-1.5", "dev-1.6")[20:] + "\n")
    (event,) = reader.read_from(second.end).events
    assert event.call.unique_id == "dev-1.6"


def _line(n: int) -> str:
    return LINE.replace("dev-1.5", f"dev-1.{n}") + "\n"


def _all(reader: CdrReader) -> tuple[list[str], Position]:
    """Read chunk after chunk from the start to the end: the unique ids, and where it stopped."""
    seen: list[str] = []
    start = Position()
    for _ in range(100):
        chunk = reader.read_from(start)
        seen += [e.call.unique_id for e in chunk.events]
        start = chunk.end
        if not chunk.more:
            break
    return seen, start


def test_a_restart_resumes_where_the_saved_position_says(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text(_line(1) + _line(2))
    first = CdrReader(path).read_from(Position())
    assert len(first.events) == 2
    with path.open("a") as f:
        f.write(_line(3))
    # The controller restarted; the position came from the database.
    again = CdrReader(path).read_from(first.end)
    assert [e.call.unique_id for e in again.events] == ["dev-1.3"]
    assert again.end.offset == path.stat().st_size


def test_a_rotated_or_truncated_file_is_read_from_its_beginning(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text(_line(1) + _line(2) + _line(3))
    reader = CdrReader(path)
    read = reader.read_from(Position())
    # logrotate: the old file moves away, a new one (another inode) starts, longer or not.
    path.rename(tmp_path / "Master.csv.1")
    path.write_text(_line(4) + _line(5) + _line(6) + _line(7))
    read = reader.read_from(read.end)
    assert [e.call.unique_id for e in read.events] == [f"dev-1.{n}" for n in (4, 5, 6, 7)]
    # copytruncate: the same file, shorter than where we were.
    path.write_text(_line(8))
    assert [e.call.unique_id for e in reader.read_from(read.end).events] == ["dev-1.8"]


def test_a_big_file_is_read_a_chunk_at_a_time_and_nothing_is_missed(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("".join(_line(n) for n in range(50)))
    seen, _ = _all(CdrReader(path, chunk=1000))  # a few lines per chunk, the last one cut
    assert seen == [f"dev-1.{n}" for n in range(50)]


def test_a_line_longer_than_a_chunk_is_skipped_not_a_stall(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("x" * 2500 + "\n" + _line(1))
    seen, end = _all(CdrReader(path, chunk=1000))
    assert seen == ["dev-1.1"] and end.offset == path.stat().st_size


class Followed:
    """What CallRecords handed on, and the position it saved (the database's part)."""

    def __init__(self, saved=None):
        self.handled: list[str] = []
        self.saved = saved

    async def handle(self, event):
        self.handled.append(event.call.unique_id)

    async def load(self):
        return self.saved

    async def save(self, inode, offset):
        self.saved = (inode, offset)

    def records(self, path, **reader):
        return CallRecords(CdrReader(path, **reader), self.handle, self.load, self.save)


async def test_a_reconnect_handles_every_record_since_the_saved_place(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("".join(_line(n) for n in range(40)))
    followed = Followed()
    assert await followed.records(path, chunk=700).catch_up(reconnected=True) == 40
    assert followed.handled == [f"dev-1.{n}" for n in range(40)]
    assert followed.saved == (path.stat().st_ino, path.stat().st_size)
    # The next run (a restart) starts from what was saved: nothing is handled twice.
    with path.open("a") as f:
        f.write(_line(40))
    restarted = Followed(followed.saved)
    assert await restarted.records(path).catch_up(reconnected=True) == 1
    assert restarted.handled == ["dev-1.40"]


async def test_a_sweep_handles_only_what_the_previous_sweep_read(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("")
    followed = Followed()
    records = followed.records(path)
    await records.catch_up(reconnected=True)
    with path.open("a") as f:
        f.write(_line(1))
    # Just written: its call's hangup may still be on its way over AMI; it waits one sweep.
    assert await records.catch_up(reconnected=False) == 0 and followed.handled == []
    with path.open("a") as f:
        f.write(_line(2))
    assert await records.catch_up(reconnected=False) == 1 and followed.handled == ["dev-1.1"]
    first_line_end = len(_line(1).encode())
    assert followed.saved == (path.stat().st_ino, first_line_end)
    # A reconnect takes everything not yet handled, the read-ahead included.
    assert await records.catch_up(reconnected=True) == 1
    assert followed.handled == ["dev-1.1", "dev-1.2"]
    assert await records.catch_up(reconnected=False) == 0  # nothing new: nothing twice


async def test_a_failed_handling_is_tried_again_not_skipped(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text(_line(1) + _line(2))
    followed = Followed()
    broken = True

    async def handle(event):
        if broken:
            raise OSError("database is locked")
        await followed.handle(event)

    records = CallRecords(CdrReader(path), handle, followed.load, followed.save)
    with pytest.raises(OSError):
        await records.catch_up(reconnected=True)
    assert followed.saved is None
    broken = False
    await records.catch_up(reconnected=False)  # reads again from the last saved place
    await records.catch_up(reconnected=False)
    assert followed.handled == ["dev-1.1", "dev-1.2"]
