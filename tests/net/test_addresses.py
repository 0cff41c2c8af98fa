"""Addresses that lead into the operator's network are refused however they are spelled."""

from __future__ import annotations

import pytest

from tidings import net


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",            # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",             # NAT64 of 10.0.0.1
    "64:ff9b:1::808:808",         # local-use NAT64 prefix, whatever it embeds
    "::127.0.0.1",                # IPv4-compatible
    "::ffff:169.254.169.254",     # IPv4-mapped metadata service
    "2002:7f00:1::",              # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",           # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo with client 127.0.0.1
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1", "fc00::1", "0.0.0.0", "224.0.0.1",
])
def test_addresses_embedding_private_ipv4_are_not_public(address: str) -> None:
    assert not net.is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::1",
                                     "2001:4860:4860::8888"])
def test_public_addresses_stay_public(address: str) -> None:
    assert net.is_public_address(address)


@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://0x7f.1/",
    "http://017700000001/", "http://127.0.0.1./", "http://LOCALHOST/", "http://localhost./",
    "http://[64:ff9b::7f00:1]/", "http://[::ffff:7f00:1]/", "http://0/", "http://10.0.0.1:8080/x",
])
def test_numeric_and_embedded_hosts_are_refused_at_save(url: str) -> None:
    with pytest.raises(net.UnsafeUrl):
        net.check_static(url, allow_private=False)


def test_hosts_are_normalised_the_way_the_resolver_reads_them() -> None:
    assert net.normalize_host("2130706433") == "127.0.0.1"
    assert net.normalize_host("0x08080808") == "8.8.8.8"
    assert net.normalize_host("Mail.Example.COM.") == "mail.example.com"
    assert net.normalize_host("1e100.net") == "1e100.net"
    assert net.check_static("http://134744072/", allow_private=False) == ("8.8.8.8", 80)
    assert net.check_static("http://2130706433/", allow_private=True) == ("127.0.0.1", 80)
