"""Issue 24 item 7: `npdb: {start: true, data_port, admin_port}` are honoured, not replaced by
random ports; a taken port stops the mock at once with a line naming it (MockPortError)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest

from popcert_npdb.launcher import MockNPDB, MockPortError


def _free_ports(count: int) -> list[int]:
    holders = [socket.socket() for _ in range(count)]
    try:
        for holder in holders:
            holder.bind(("127.0.0.1", 0))
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def test_the_asked_for_ports_are_the_ports_the_mock_listens_on(tmp_path: Path) -> None:
    data_port, admin_port = _free_ports(2)
    with MockNPDB(tmp_path / "npdb", population=1000, data_port=data_port,
                  admin_port=admin_port) as npdb:
        assert npdb.data_url == f"https://127.0.0.1:{data_port}"
        assert npdb.admin_url == f"http://127.0.0.1:{admin_port}"
        assert httpx.get(f"{npdb.admin_url}/admin/health", timeout=10).status_code == 200
        with httpx.Client(verify=ssl.create_default_context(cafile=npdb.ca_path), timeout=10) as client:
            assert client.get(npdb.jwks_url).status_code == 200


def test_a_taken_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MockPortError) as refused:
            MockNPDB(tmp_path / "npdb", population=1000, admin_port=port).start()
    assert refused.value.role == "admin" and refused.value.port == port
    assert "in use" in refused.value.reason and "\n" not in str(refused.value)
