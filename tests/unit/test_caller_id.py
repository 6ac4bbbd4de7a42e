from callcenter.tickets.caller_id import sanitise


def test_clean_caller_id_is_unchanged():
    c = sanitise("0341123456", "Budi")
    assert (c.number, c.name, c.raw) == ("0341123456", "Budi", None)


def test_unknown_and_missing_become_empty():
    assert sanitise("unknown", "Unknown") == sanitise(None, None) == sanitise("", "")
    assert sanitise("<unknown>", "<unknown>") == sanitise(None, None)  # AMI's spelling
    assert sanitise(None, None).number == ""


def test_invalid_utf8_keeps_its_bytes_visible():
    c = sanitise(b"0812\xff34", b"Bu\xe9di")
    assert c.number == "0812\\xff34"
    assert c.name == "Bu\\xe9di"
    assert c.raw is not None


def test_surrogate_escaped_text_from_the_agi_edge():
    raw = b"08\xfe1".decode("utf-8", errors="surrogateescape")
    assert sanitise(raw, "").number == "08\\xfe1"


def test_control_characters_are_removed_and_recorded():
    c = sanitise("0812\r\n3456\x00", "A\u202eB")
    assert c.number == "08123456"
    assert c.name == "AB"
    assert c.raw is not None and "\\r\\n" in c.raw


def test_long_values_are_bounded_but_kept_in_raw():
    c = sanitise("9" * 500, "n" * 500)
    assert len(c.number) == 64 and len(c.name) == 128
    assert c.raw is not None and "9" * 500 in c.raw


def test_sql_and_html_are_just_text():
    c = sanitise("'; DROP TABLE tickets; --", "<script>alert(1)</script>")
    assert c.number == "'; DROP TABLE tickets; --"
    assert c.name == "<script>alert(1)</script>"
    assert c.raw is None
