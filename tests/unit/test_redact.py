"""scrub(): every secret the process knows leaves every message, and short values do not mangle it."""

from __future__ import annotations

import base64

from clipforge.redact import remember_secrets, scrub


def test_base_url_credentials_and_their_basic_auth_form_are_scrubbed(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:secretpass@127.0.0.1:9/v1")
    basic = base64.b64encode(b"user:secretpass").decode()
    msg = f"401 from http://user:secretpass@127.0.0.1:9/v1: got {basic} (password secretpass)"
    out = scrub(msg)
    assert "secretpass" not in out and basic not in out
    assert "http://127.0.0.1:9/v1" in out


def test_authorization_headers_are_stripped_by_pattern():
    out = scrub("server said: Authorization: Bearer abcdefgh12345 and Basic QWxhZGRpbjpvcGVu==")
    assert "abcdefgh12345" not in out and "QWxhZGRpbjpvcGVu" not in out
    assert "Bearer REDACTED" in out and "Basic REDACTED" in out


def test_a_short_key_does_not_mangle_messages(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    msg = "extracting seg001: ffmpeg exited; the token limit was reached"
    assert scrub(msg) == msg


def test_long_api_key_and_remembered_input_secrets_are_scrubbed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "key-0123456789abcdef")
    remember_secrets("https://host/v.mp4?sig=abcdefgh-signature-9&v=1")
    out = scrub("failed with key-0123456789abcdef while fetching sig abcdefgh-signature-9")
    assert "0123456789abcdef" not in out and "abcdefgh-signature-9" not in out


def test_userinfo_in_any_url_is_removed_even_if_short():
    out = scrub("could not open ftp://bo:pw@files.example/x and https://a@b.example/")
    assert "bo:pw" not in out and "a@" not in out
