"""TelegramReporter against a local Bot-API stand-in: messages, photos, failures, and no token leaks."""

import json
import logging
import socket
import sys
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from vai_train import logging_setup
from vai_train.reporting import RunInfo, TelegramReporter, format_duration, format_report

TOKEN = "987654321:AAFakeTokenForTests_xyz"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class FakeTelegram:
    """Records requests; ``mode`` picks the answer: ok, api_error (ok=false) or http_500."""

    def __init__(self):
        self.requests = []
        self.mode = "ok"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                _, bot, method = self.path.split("/")
                record = {"token": bot[3:], "method": method, "content_type": self.headers["Content-Type"]}
                if method == "sendMessage":
                    record["json"] = json.loads(body)
                else:
                    head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                    msg = BytesParser(policy=HTTP).parsebytes(head + body)
                    record["parts"] = {
                        p.get_param("name", header="content-disposition"): (
                            p.get_filename(),
                            p.get_payload(decode=True),
                        )
                        for p in msg.iter_parts()
                    }
                fake.requests.append(record)
                status, payload = {
                    "ok": (200, {"ok": True, "result": {}}),
                    "api_error": (200, {"ok": False, "description": "Bad Request: chat not found"}),
                    "http_500": (500, {"ok": False, "description": "Internal"}),
                }[fake.mode]
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeTelegram()
    yield server
    server.close()
    logging_setup._secrets.clear()


@pytest.fixture
def reporter(fake, tmp_path):
    ini = tmp_path / "key.ini"
    ini.write_text(
        f"[Telegram0]\ntoken = wrong\nchat_id = 1\n\n[Telegram1]\ntoken = {TOKEN}\nchat_id = -100200\n"
    )
    run = RunInfo("hmdb51", "tsm_resnet50", "crop224_8frame", subfolder="seed1", version=3, host="node7")
    return TelegramReporter.from_key_ini(ini, bot_index=1, run=run, api_base=fake.url + "/", timeout=5)


SUMMARY = """epoch,train_runtime_sec,train_loss,train_acc,val_runtime_sec,val_loss,val_acc,val_acc_top5
0,60.0,2.0,0.1,10.0,1.9,0.20,0.50
1,120.0,1.5,0.3,20.0,1.6,0.35,0.70
2,90.0,1.2,0.5,30.0,1.7,0.30,0.75
"""


def test_title_and_key_ini(reporter):
    assert reporter.title == "hmdb51 tsm_resnet50 crop224_8frame seed1 v3 on node7"
    assert reporter.chat_id == "-100200"
    assert TOKEN not in repr(reporter)
    assert RunInfo("d", "m", "e", host="h").title() == "d m e on h"


def test_start_report_with_photos(reporter, fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    summary = tmp_path / "summary.csv"
    summary.write_text(SUMMARY)
    plot = tmp_path / "accuracy.png"
    plot.write_bytes(PNG)
    (tmp_path / "accuracy.pdf").write_bytes(b"%PDF")
    assert reporter.start("training 3 epochs")
    assert reporter.report(
        summary, [plot, tmp_path / "accuracy.pdf"], {"val_acc": True, "val_acc_top5": True}
    )

    assert [r["method"] for r in fake.requests] == ["sendMessage", "sendMessage", "sendPhoto"]
    assert all(r["token"] == TOKEN for r in fake.requests)
    start = fake.requests[0]["json"]
    assert start["chat_id"] == "-100200" and "Started: hmdb51 tsm_resnet50" in start["text"]
    text = fake.requests[1]["json"]["text"]
    assert text.splitlines()[0] == "hmdb51 tsm_resnet50 crop224_8frame seed1 v3 on node7"
    assert "Highest (@ epoch 1) / Last (@ 2) val_acc: 0.3500 / 0.3000" in text
    assert "Highest (@ epoch 2) / Last (@ 2) val_acc_top5: 0.7500 / 0.7500" in text
    assert "Lowest (@ epoch 1) / Last (@ 2) val_loss: 1.6000 / 1.7000" in text
    assert "train_acc" not in text
    assert "Avg / total train time: 1m 30s / 4m 30s" in text
    assert "Avg / total val time: 20.0s / 1m 00s" in text
    assert "PyTorch" in text and "vai-train" in text
    photo = fake.requests[2]
    assert photo["content_type"].startswith("multipart/form-data; boundary=")
    assert photo["parts"]["photo"] == ("accuracy.png", PNG)
    assert photo["parts"]["chat_id"][1] == b"-100200" and photo["parts"]["caption"][1] == b"accuracy"
    assert TOKEN not in caplog.text


def test_early_stop_finish_eval_and_long_messages(reporter, fake):
    assert reporter.early_stop(42, "no improvement for 20 epochs")
    assert reporter.finish()
    assert reporter.eval_result({"val_acc": 0.5}, epoch=3)
    assert reporter.send_message("x" * 5000)
    texts = [r["json"]["text"] for r in fake.requests]
    assert texts[0].startswith("Early stopping at epoch 42: hmdb51") and texts[0].endswith("20 epochs")
    assert texts[1].startswith("Finished: hmdb51")
    assert (
        texts[2]
        == "Evaluation (epoch 3): hmdb51 tsm_resnet50 crop224_8frame seed1 v3 on node7\nval_acc: 0.5000"
    )
    assert [len(t) for t in texts[3:]] == [4096, 904]


def test_exception_reporting_redacts_token(reporter, fake, caplog):
    with pytest.raises(RuntimeError), reporter.catch_exceptions():
        raise RuntimeError(f"request to /bot{TOKEN}/x failed")
    text = fake.requests[0]["json"]["text"]
    assert text.startswith("Error in hmdb51") and "RuntimeError: request to /bot***/x failed" in text
    assert "Traceback" in text and TOKEN not in text

    previous = sys.excepthook
    seen = []
    sys.excepthook = lambda *a: seen.append(a[0])
    try:
        reporter.install_excepthook()
        try:
            raise ValueError("uncaught")
        except ValueError as e:
            sys.excepthook(type(e), e, e.__traceback__)
    finally:
        sys.excepthook = previous
    assert seen == [ValueError] and "ValueError: uncaught" in fake.requests[1]["json"]["text"]


@pytest.mark.parametrize("mode", ["api_error", "http_500"])
def test_api_failures_warn_without_raising(reporter, fake, caplog, mode):
    fake.mode = mode
    with caplog.at_level(logging.WARNING):
        assert reporter.send_message("hello") is False
        assert reporter.send_photo(__file__) is False
    assert "Telegram sendMessage failed" in caplog.text and "Telegram sendPhoto failed" in caplog.text
    assert ("chat not found" in caplog.text) if mode == "api_error" else ("HTTP 500" in caplog.text)
    assert TOKEN not in caplog.text


def test_unreachable_server_and_missing_file(tmp_path, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rep = TelegramReporter(TOKEN, 5, api_base=f"http://127.0.0.1:{port}", timeout=2)
    with caplog.at_level(logging.WARNING):
        assert rep.send_message("hi") is False
        assert rep.send_photo(tmp_path / "missing.png") is False
        assert rep.report(tmp_path / "missing.csv") is False
    assert "Telegram sendMessage failed: URLError" in caplog.text
    assert "cannot read" in caplog.text
    assert rep.send_message("during cooldown") is False  # skipped without a new connection attempt
    assert caplog.text.count("Telegram sendMessage failed") == 1 and "report skipped" in caplog.text
    assert TOKEN not in caplog.text
    logging_setup._secrets.clear()


def test_token_redacted_from_url_errors(caplog):
    rep = TelegramReporter(TOKEN, 5, api_base="http://[bad-host", timeout=1)
    with caplog.at_level(logging.WARNING):
        assert rep.send_message("hi") is False
    assert "Telegram sendMessage failed" in caplog.text and TOKEN not in caplog.text
    logging_setup._secrets.clear()


def test_key_ini_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\[Telegram0\] section"):
        TelegramReporter.from_key_ini(tmp_path / "key.ini")
    ini = tmp_path / "key.ini"
    ini.write_text("[Telegram0]\ntoken = abc12345\n")
    with pytest.raises(ValueError, match=r"no \[Telegram2\] section") as err:
        TelegramReporter.from_key_ini(ini, bot_index=2)
    assert str(err.value).startswith(str(ini))  # the message itself, not a KeyError's quoted repr
    with pytest.raises(ValueError, match=r"missing \['chat_id'\]") as err:
        TelegramReporter.from_key_ini(ini)
    assert "abc12345" not in str(err.value)
    with pytest.raises(ValueError, match="api_base must start with http"):
        TelegramReporter("abc12345", 1, api_base="ftp://x")
    logging_setup._secrets.clear()


def test_format_helpers(tmp_path):
    assert format_duration(42.46) == "42.5s" and format_duration(3725) == "1h 02m 05s"
    summary = tmp_path / "summary.csv"
    summary.write_text("epoch,train_loss\n")
    assert "No epoch finished yet" in format_report(summary, title="t")


def test_key_ini_search_and_title_override(tmp_path, monkeypatch, fake):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAI_KEY_INI", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError, match="no Telegram key.ini found"):
        TelegramReporter.from_ini(bot_index=0)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "key.ini").write_text(
        f"[Telegram0]\ntoken = {TOKEN}\nchat_id = 3\napi_base = {fake.url}\n"
    )
    rep = TelegramReporter.from_ini(bot_index=0, title="custom title")
    assert rep.title == "custom title" and rep.api_base == fake.url
    assert rep.finish("done")
    assert fake.requests[0]["json"]["text"] == "Finished: custom title\ndone"
    other = tmp_path / "elsewhere.ini"
    other.write_text("[Telegram4]\ntoken = abcdefgh\nchat_id = 9\n")
    monkeypatch.setenv("VAI_KEY_INI", str(other))
    assert TelegramReporter.from_key_ini(bot_index=4).chat_id == "9"
