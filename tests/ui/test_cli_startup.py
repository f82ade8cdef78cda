"""``ragqa ui`` as a person runs it: a separate process that ends with the window served."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from benchmarks._common import child_env, running_ragqa_ui

pytestmark = pytest.mark.integration


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_ragqa_ui_serves_the_window_on_loopback(
    tmp_path: Path, default_index_dir: Path, artifacts_dir: Path
) -> None:
    shutil.copytree(default_index_dir, tmp_path / "index" / "default")
    env = child_env(RAGQA_DATA_DIR=str(tmp_path))
    env.pop("GRADIO_TEMP_DIR", None)  # the window's own default, as for a person
    with running_ragqa_ui([], env, cwd=tmp_path) as ui:
        port = int(ui.url.rstrip("/").rsplit(":", 1)[1])
        address = other_address()
        if address is not None:
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass
        from gradio_client import Client

        client = Client(ui.url, verbose=False)
        result = client.predict("When did Lei Jun found Xiaomi?", None, 3, api_name="/ask")
        client.close()
    assert result["citations"]
    (artifacts_dir / "ui-startup.json").write_text(
        json.dumps(
            {
                "seconds_to_ready": round(ui.seconds_to_ready, 2),
                "cpu_seconds_to_ready": ui.cpu_seconds_to_ready,
                "load_average": os.getloadavg()[0],
            }
        )
        + "\n"
    )
