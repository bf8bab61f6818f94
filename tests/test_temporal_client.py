"""How the client reaches Temporal Cloud or an mTLS server: the settings decide TLS, mTLS and the API key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.service import TLSConfig

from keeptime.settings import Settings
from keeptime.temporal_client import tls_config


def test_a_local_server_gets_no_tls_and_an_api_key_turns_it_on() -> None:
    assert tls_config(Settings()) is False
    assert tls_config(Settings(temporal_tls=True)) is True
    assert tls_config(Settings(temporal_api_key=SecretStr("cloud-key"))) is True  # Temporal Cloud needs TLS


def test_a_client_certificate_and_key_make_mtls(tmp_path: Path) -> None:
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    config = tls_config(
        Settings(temporal_tls_client_cert=cert, temporal_tls_client_key=key, temporal_tls_server_ca=ca)
    )
    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key, config.server_root_ca_cert) == (
        b"CERT",
        b"KEY",
        b"CA",
    )


def test_a_certificate_without_its_key_is_refused_where_the_settings_are_read(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_bytes(b"CERT")
    with pytest.raises(ValueError, match="go together"):
        Settings(temporal_tls_client_cert=cert)
