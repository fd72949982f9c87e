"""The re-identification key: mode 0600, encrypted with a passphrase, never overwritten by mistake."""

from __future__ import annotations

import json
import stat

import pytest

from pipeline.deid.key import KeyFileError, KeyPassphraseError, PseudonymKey

ORIGINAL = "Anna Jensen"


def _key_with_data(passphrase=None) -> PseudonymKey:
    key = PseudonymKey(passphrase)
    person = key.new_person("[PERSON_1]", "PERSON", key.next_number("PERSON"))
    key.add_name(person, "anna jensen", "anna", "jensen")
    key.note_use(person, ORIGINAL, "int-1")
    entry = key.new_entry("PHONE_NUMBER", "4522319", "[PHONE_1]", "PHONE", key.next_number("PHONE"))
    key.note_use(entry, "45 22 31 9", "int-1")
    return key


def test_missing_file_gives_an_empty_key(tmp_path):
    key = PseudonymKey.load(tmp_path / "key.json", None)
    assert len(key) == 0


def test_plain_key_is_mode_0600_and_round_trips(tmp_path):
    path = tmp_path / "key.json"
    _key_with_data().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = PseudonymKey.load(path, None)
    assert again.person_by_name("anna jensen").pseudonym == "[PERSON_1]"
    assert again.lookup("[PERSON_1]") == [ORIGINAL]
    assert again.next_number("PERSON") == 2  # counters survive


def test_encrypted_key_holds_no_original_in_clear_text(tmp_path):
    path = tmp_path / "key.json"
    _key_with_data("correct horse battery staple").save(path)
    raw = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for value in (b"Anna", b"Jensen", b"anna", b"jensen", b"PERSON_1", b"4522319"):
        assert value not in raw
    assert json.loads(raw)["encrypted"] is True
    again = PseudonymKey.load(path, "correct horse battery staple")
    assert again.lookup("[PERSON_1]") == [ORIGINAL]


def test_wrong_passphrase_is_refused_and_key_unchanged(tmp_path):
    path = tmp_path / "key.json"
    _key_with_data("right one").save(path)
    before = path.read_bytes()
    with pytest.raises(KeyPassphraseError, match="wrong passphrase"):
        PseudonymKey.load(path, "wrong one")
    # a key made with another passphrase may not replace it either
    with pytest.raises(KeyPassphraseError):
        _key_with_data("wrong one").save(path)
    with pytest.raises(KeyPassphraseError):
        _key_with_data(None).save(path)
    assert path.read_bytes() == before


def test_encrypted_key_without_passphrase_is_a_clear_error(tmp_path):
    path = tmp_path / "key.json"
    _key_with_data("secret").save(path)
    with pytest.raises(KeyPassphraseError, match="passphrase is needed"):
        PseudonymKey.load(path, None)


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"format": "other"}', '{"format": "interview-pipeline-key", "version": 99}'],
)
def test_malformed_key_file_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(KeyFileError, match="key.json"):
        PseudonymKey.load(path, None)


def test_error_messages_never_hold_values(tmp_path):
    path = tmp_path / "key.json"
    _key_with_data("a").save(path)
    with pytest.raises(KeyPassphraseError) as exc:
        PseudonymKey.load(path, "b")
    assert "Anna" not in str(exc.value) and "b" != str(exc.value)
