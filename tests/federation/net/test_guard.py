"""The connection guard (``net/guard.py``): which addresses a request may reach, and the refusals that
happen before any connection is made."""
from __future__ import annotations

import ipaddress

import pytest

from linkblog.federation.net import BadURL, BlockedAddress, ConnectionFailed, check_address, checked_url, resolve

from tests.federation.net.servers import PUBLIC_IP, FakeDNS, Runner, Server, allow, strict
from tests.support.aio import run_async


# --- the address checker ----------------------------------------------------------------------

BLOCKED_ALWAYS = [
    "0.0.0.0", "0.1.2.3", "169.254.169.254", "169.254.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
    "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::", "::127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
    "100::1", "2001::1", "2001:db8::1", "2002:7f00:1::1", "3fff::1", "fe80::1", "fe80::1%eth0", "fec0::1",
    "ff02::1", "ff0e::1",
]
LOCAL = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
    "fc00::1", "fd00::1", "fd12:3456:789a::1",
]
PUBLIC = [
    "1.1.1.1", "8.8.8.8", PUBLIC_IP, "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
    "192.169.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", BLOCKED_ALWAYS + LOCAL)
def test_strict_mode_blocks_special_addresses(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address)


@pytest.mark.parametrize("address", BLOCKED_ALWAYS)
def test_allow_mode_still_blocks_link_local_multicast_and_reserved(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address, allow_private=True)


@pytest.mark.parametrize("address", LOCAL)
def test_allow_mode_opens_loopback_and_private_ranges(address: str) -> None:
    assert check_address(address, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_in_both_modes(address: str) -> None:
    assert check_address(address) == check_address(address, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["not-an-ip", "", "1.2.3.4.5"])
def test_non_addresses_are_refused(host: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(host)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "0", "10.1",
                                  "localhost"])
def test_shorthand_and_decimal_forms_are_checked_after_resolution(host: str) -> None:
    with pytest.raises(BlockedAddress):
        resolve(host, 443)


def test_resolve_returns_vetted_addresses(dns: FakeDNS) -> None:
    dns.answers["ok.example"] = [[PUBLIC_IP, "2606:4700:4700::1111", PUBLIC_IP]]
    assert resolve("ok.example", 443) == [PUBLIC_IP, "2606:4700:4700::1111"]


# --- refusal before any connection (strict mode) ----------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "2130706433", "0.0.0.0", "[::1]",
                                  "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"])
def test_strict_mode_refuses_loopback_before_connecting(run: Runner, server: Server, host: str) -> None:
    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", f"https://{host}:{server.port}/actor/alice")
    assert server.connections == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/actor/alice", "http://example.com/actor/alice"])
def test_strict_mode_refuses_plain_http(run: Runner, server: Server, url: str) -> None:
    with pytest.raises(BadURL):
        run(strict(), "fetch_json", url.format(port=server.port))
    assert server.connections == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/",
                                 "http://user:secret@127.0.0.1/x", "not a url", "https:///nohost"])
def test_other_schemes_credentials_and_garbage_are_refused(run: Runner, url: str) -> None:
    with pytest.raises(BadURL):
        run(allow(), "get", url)


def test_strict_mode_refuses_http_redirect_targets() -> None:
    assert str(checked_url("https://example.com/a#frag", strict())) == "https://example.com/a"
    with pytest.raises(BadURL):
        checked_url("http://example.com/a", strict())


def test_hostname_resolving_to_private_address_is_refused_without_connecting(run: Runner, dns: FakeDNS) -> None:
    dns.answers["evil.example"] = [["10.0.0.1"]]
    recorder = run.recorder()
    with pytest.raises(BlockedAddress, match="evil.example"):
        run(strict(), "fetch_json", "https://evil.example/actor/alice", backend=recorder)
    assert dns.lookups == ["evil.example"]
    assert recorder.targets == []


def test_one_private_answer_among_public_ones_poisons_the_host(run: Runner, dns: FakeDNS, server: Server) -> None:
    dns.answers["mixed.example"] = [[PUBLIC_IP, "127.0.0.1"]]
    recorder = run.recorder()
    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", f"https://mixed.example:{server.port}/actor/alice", backend=recorder)
    assert recorder.targets == []
    assert server.connections == []


def test_dns_rebinding_cannot_redirect_the_connection(run: Runner, dns: FakeDNS, server: Server) -> None:
    """First answer public, every later one loopback: the connection goes to the address that was
    checked, never to one from a second lookup, and the next fetch is refused outright."""
    dns.answers["rebind.example"] = [[PUBLIC_IP], ["127.0.0.1"]]
    recorder = run.recorder()
    url = f"https://rebind.example:{server.port}/actor/alice"
    with pytest.raises(ConnectionFailed):
        run(strict(), "fetch_json", url, backend=recorder)
    assert recorder.targets == [PUBLIC_IP]
    assert dns.lookups == ["rebind.example"]
    assert server.connections == []

    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", url, backend=recorder)
    assert recorder.targets == [PUBLIC_IP]
    assert server.connections == []


def test_strict_webfinger_of_a_loopback_host_is_refused(run: Runner, server: Server) -> None:
    with pytest.raises(BlockedAddress):
        run(strict(), "webfinger", f"@alice@127.0.0.1:{server.port}")
    assert server.connections == []


def test_international_names_reach_the_resolver_as_browsers_encode_them(dns: FakeDNS) -> None:
    """Given a non-ASCII name, socket.getaddrinfo would apply IDNA 2003 (faß.de -> fass.de, someone else's
    domain): the guard hands the resolver the UTS #46 name, or nothing at all for an invalid one."""
    from linkblog.federation.net import aresolve

    dns.answers["xn--fa-hia.de"] = [[PUBLIC_IP]]
    dns.answers["fass.de"] = [["2606:4700:4700::1111"]]
    assert resolve("faß.de", 443) == [PUBLIC_IP]
    assert run_async(lambda: aresolve("FAß.de", 443)) == [PUBLIC_IP]   # a thread of its own: see run_async
    assert dns.lookups == ["xn--fa-hia.de", "xn--fa-hia.de"]
    with pytest.raises(Exception, match="not a valid international domain name"):
        resolve("a\u200db.example", 443)
    assert dns.lookups == ["xn--fa-hia.de", "xn--fa-hia.de"]


def test_fetches_map_international_hosts_as_browsers_do(run: Runner, dns: FakeDNS) -> None:
    dns.answers["xn--fa-hia.de"] = [["10.0.0.1"]]  # refused after the lookup, so nothing is dialled
    recorder = run.recorder()
    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", "https://ＦＡß.de/actor/alice", backend=recorder)
    assert dns.lookups == ["xn--fa-hia.de"]
    with pytest.raises(BadURL, match="invalid host"):
        run(strict(), "fetch_json", "https://a\u200db.example/actor/alice", backend=recorder)
    assert str(checked_url("https://ＥＸＡＭＰＬＥ.com/a", strict())) == "https://example.com/a"
    assert recorder.targets == []
