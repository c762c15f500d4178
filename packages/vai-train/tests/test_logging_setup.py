"""setup_logging: per-level files, rank handling, idempotence and secret redaction."""

import logging

import pytest
from vai_train import logging_setup
from vai_train.logging_setup import redact, register_secret, remove_logging_handlers, setup_logging


@pytest.fixture(autouse=True)
def _clean_logging():
    yield
    remove_logging_handlers()
    logging_setup._secrets.clear()


def _vai_handlers():
    return [h for h in logging.getLogger().handlers if getattr(h, "_vai_logging", False)]


def test_per_level_files_and_console(tmp_path, capsys):
    setup_logging(tmp_path / "logs", level="INFO", prefix="train")
    log = logging.getLogger("vai_train.test")
    log.debug("dbg-line")
    log.info("info-line")
    log.warning("warn-line")
    log.error("err-line")
    for h in _vai_handlers():
        h.flush()
    files = {p.name: p.read_text() for p in (tmp_path / "logs").iterdir()}
    assert sorted(files) == ["train_DEBUG.log", "train_ERROR.log", "train_INFO.log", "train_WARNING.log"]
    assert all(s in files["train_DEBUG.log"] for s in ("dbg-line", "info-line", "warn-line", "err-line"))
    assert "dbg-line" not in files["train_INFO.log"] and "info-line" in files["train_INFO.log"]
    assert "info-line" not in files["train_WARNING.log"] and "warn-line" in files["train_WARNING.log"]
    assert files["train_ERROR.log"].count("\n") == 1 and "err-line" in files["train_ERROR.log"]
    err = capsys.readouterr().err
    assert "info-line" in err and "dbg-line" not in err


def test_idempotent(tmp_path):
    setup_logging(tmp_path, prefix="eval")
    setup_logging(tmp_path, prefix="eval")
    assert len(_vai_handlers()) == 1 + 4
    logging.getLogger("x").warning("once")
    for h in _vai_handlers():
        h.flush()
    assert (tmp_path / "eval_WARNING.log").read_text().count("once") == 1
    setup_logging(None)
    assert len(_vai_handlers()) == 1


def test_other_ranks_warn_only(tmp_path, capsys):
    setup_logging(tmp_path, level="DEBUG", rank=1)
    logging.getLogger("x").info("quiet-info")
    assert list(tmp_path.iterdir()) == []  # delayed file: not created until a warning
    logging.getLogger("x").warning("loud-warning")
    for h in _vai_handlers():
        h.flush()
    err = capsys.readouterr().err
    assert "quiet-info" not in err and "[rank 1]" in err and "loud-warning" in err
    assert "loud-warning" in (tmp_path / "train_rank1_WARNING.log").read_text()


def test_bad_level():
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        setup_logging(None, level="LOUD")


def test_secrets_redacted_in_messages_args_and_tracebacks(tmp_path, capsys):
    token = "123456:ABCdefSECRET"
    register_secret(token)
    setup_logging(tmp_path)
    log = logging.getLogger("vai_train.telegram_test")
    log.info("url https://api.telegram.org/bot%s/sendMessage", token)
    log.info("quoted %s", "123456%3AABCdefSECRET")
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("boom")
    for h in _vai_handlers():
        h.flush()
    text = (tmp_path / "train_DEBUG.log").read_text() + capsys.readouterr().err
    assert token not in text and "ABCdefSECRET" not in text
    assert "bot***/sendMessage" in text and "failed with ***" in text and "quoted ***" in text
    assert redact(f"x{token}y") == "x***y"
    register_secret("ab")  # too short to be a secret: ignored
    assert redact("abc") == "abc"
