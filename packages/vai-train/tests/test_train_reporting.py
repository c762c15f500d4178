"""Engine-level reporting: Telegram messages (local fake Bot API) and DataLoader workers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from vai_train import run_train

TOKEN = "123456:EngineTestToken_abc"


@pytest.fixture
def bot_api():
    calls: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            method = self.path.rsplit("/", 1)[-1]
            text = json.loads(body).get("text", "") if method == "sendMessage" else ""
            calls.append((method, text))
            out = b'{"ok": true, "result": {}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def test_telegram_start_report_finish(base_args: list[str], bot_api, tmp_path: Path, monkeypatch) -> None:
    url, calls = bot_api
    ini = tmp_path / "key.ini"
    ini.write_text(f"[Telegram0]\ntoken = {TOKEN}\nchat_id = 42\napi_base = {url}\n")
    monkeypatch.setenv("VAI_KEY_INI", str(ini))
    res = run_train(base_args + ["-e", "1", "-B", "0", "-T", "1", "--plot-period", "1"])
    methods = [m for m, _ in calls]
    texts = "\n".join(t for _, t in calls)
    assert methods[0] == "sendMessage" and "Started" in calls[0][1] and "tiny tinynet base v0" in calls[0][1]
    assert "sendPhoto" in methods and "Finished" in calls[-1][1]
    assert "val_acc" in texts
    from vai_train import run_eval

    run_eval(base_args + ["-l", "-1", "-B", "0"])
    assert "Evaluation (epoch 1)" in calls[-1][1] and "val_acc" in calls[-1][1]
    for log in (res.run_dir / "logs").glob("*.log"):
        assert TOKEN not in log.read_text()


def test_missing_key_ini_only_warns(base_args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VAI_KEY_INI", str(tmp_path / "none.ini"))
    res = run_train(base_args + ["-e", "1", "-B", "0"])
    assert "Telegram reporting failed" in (res.run_dir / "logs" / "train_WARNING.log").read_text()


def test_dataloader_workers(base_args: list[str]) -> None:
    args = list(base_args)
    args[args.index("-w") + 1] = "2"
    res = run_train(args + ["-e", "1"])
    assert res.summary[0]["val_acc"] is not None
