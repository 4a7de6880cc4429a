"""Failed sign-ins slow their source down and keep no one else out (the lockouts a review found).

Guessers from other addresses, however many guesses, never keep a person from signing in
from their own; wrong API tokens never keep a valid one out; and guessing stays expensive:
each address gets a few free failures, then waits that double, so a day of guessing from
one address is a few dozen guesses. The waits are shown with the service's clock (`now`),
not by waiting.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import services
from archive.errors import Throttled
from archive.services import authentication
from archive.storage import database
from tests.helpers import sql
from tests.web.conftest import PASSWORD, ROLES, World, sign_in
from tests.web.test_tokens import SECRET, _create

ADMIN = ROLES["admin"][0]
OTHERS = [f"127.0.0.{n}" for n in range(2, 12)]  # ten other loopback addresses


def _from(client: FlaskClient, address: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client: FlaskClient, email: str, password: str) -> int:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
    response.close()
    return response.status_code


def test_a_hundred_wrong_guesses_from_ten_other_addresses_do_not_keep_the_admin_out(
        web_app: Flask, world: World) -> None:
    answers = [_login(_from(web_app.test_client(), OTHERS[n % 10]), ADMIN, f"guess {n}") for n in range(100)]

    assert set(answers) == {200, 429} and answers.count(200) < 100  # wrong, then slowed: never signed in
    person = _from(web_app.test_client(), "127.0.0.1")
    assert _login(person, ADMIN, PASSWORD) == 302
    assert person.get("/admin").status_code == 200


def test_while_the_admin_is_guessed_a_typo_from_their_own_address_is_forgiven_once(
        web_app: Flask, world: World) -> None:
    for n in range(100):
        _login(_from(web_app.test_client(), OTHERS[n % 10]), ADMIN, f"guess {n}")
    person = _from(web_app.test_client(), "127.0.0.1")

    assert _login(person, ADMIN, "a typo") == 200
    assert _login(person, ADMIN, PASSWORD) == 302


def _api(client: FlaskClient, secret: str) -> int:
    client.delete_cookie("escrow_session")
    response = client.get("/api/v1/search?q=housekeeper", headers={"Authorization": f"Bearer {secret}"})
    response.close()
    return response.status_code


def _token(web_app: Flask, world: World) -> str:
    client = web_app.test_client()
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    return secret


@pytest.mark.parametrize("guessers", [OTHERS, ["127.0.0.1"]], ids=["ten other addresses", "the same address"])
def test_a_hundred_wrong_tokens_do_not_keep_a_valid_token_out(web_app: Flask, world: World,
                                                              guessers: list[str]) -> None:
    secret = _token(web_app, world)
    answers = [_api(_from(web_app.test_client(), guessers[n % len(guessers)]), "esc_" + f"{n:043d}")
               for n in range(100)]

    assert set(answers) <= {401, 429} and 401 in answers  # refused (then slowed), never opened
    assert _api(_from(web_app.test_client(), "127.0.0.1"), secret) == 200
    # and an address's wrong tokens do not slow its password sign-ins
    assert _login(_from(web_app.test_client(), guessers[0]), ADMIN, PASSWORD) == 302


# -- the cost of guessing, by the service's clock ---------------------------------------

@pytest.fixture
def archive(web_app: Flask, world: World) -> Iterator[services.Archive]:
    with web_app.app_context():
        yield services.current()
        database.db.session.remove()


def _guess_for_a_day(archive: services.Archive, addresses: list[str], email: str = ADMIN) -> int:
    """Guess from each address as fast as the archive lets it, retrying the moment it says;
    how many guesses were checked in a day."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    ready = dict.fromkeys(addresses, start)
    checked = 0
    while True:
        address, at = min(ready.items(), key=lambda item: item[1])
        if at >= start + timedelta(days=1):
            return checked
        try:
            assert authentication.sign_in(archive, email, f"guess {checked}", address, now=at) is None
            checked += 1
            ready[address] = at
        except Throttled as slowed:
            assert 1 <= slowed.retry_after <= authentication.PAIR.cap.total_seconds()
            ready[address] = at + timedelta(seconds=slowed.retry_after)


def test_a_day_of_guessing_from_one_address_is_a_few_dozen_guesses(archive: services.Archive) -> None:
    assert authentication.PAIR.free < _guess_for_a_day(archive, ["203.0.113.7"]) <= 40


def test_ten_addresses_guessing_one_account_get_less_each_than_one_alone(archive: services.Archive) -> None:
    assert _guess_for_a_day(archive, [f"203.0.113.{n}" for n in range(10)]) <= 10 * 40


def test_a_sprayer_is_slowed_across_every_email(archive: services.Archive) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for n in range(authentication.ADDRESS.free):
        authentication.sign_in(archive, f"someone{n}@example.org", "wrong", "203.0.113.8", now=now)
    with pytest.raises(Throttled) as slowed:
        authentication.sign_in(archive, "nobody-yet@example.org", "wrong", "203.0.113.8", now=now)
    assert slowed.value.retry_after == authentication.FIRST_WAIT.total_seconds()
    assert authentication.sign_in(archive, ADMIN, PASSWORD, "203.0.113.9", now=now) is not None  # elsewhere: no wait


def test_one_ipv6_subscriber_is_one_source_however_many_addresses_it_uses(archive: services.Archive) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for n in range(authentication.PAIR.free):
        authentication.sign_in(archive, ADMIN, "wrong", f"2001:db8:1:2::{n + 1:x}", now=now)
    with pytest.raises(Throttled):
        authentication.sign_in(archive, ADMIN, "wrong", "2001:db8:1:2:ffff::1", now=now)
    assert authentication.sign_in(archive, ADMIN, PASSWORD, "2001:db8:1:3::1", now=now) is not None


# Each generated example guesses on a day of its own, past every count's span (LONGEST):
# Hypothesis runs every example on the same archive, whose database keeps the failures, so on
# one shared instant an address that guessed in an earlier example (198.51.100.20, say) could
# be a later example's person, slowed by its own earlier guesses, which is no failure of the
# property (and an example replayed while shrinking would not meet what the first run met).
_DAYS = itertools.count()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (Up to a few more guessers than GUESSED: one example alone can make the email a guessed one.)
@given(guessers=st.lists(st.tuples(st.ip_addresses(), st.integers(1, 8)), min_size=1,
                         max_size=authentication.GUESSED + 2),
       person=st.sampled_from(["127.0.0.1", "198.51.100.20", "2001:db8:aa::1"]))
def test_no_guessers_anywhere_keep_a_person_out_of_their_own_address(
        archive: services.Archive, guessers: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]],
        person: str) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC) + next(_DAYS) * 2 * authentication.LONGEST
    for address, count in guessers:
        if authentication.source(str(address)) == authentication.source(person):
            continue  # the person's own address (or /64) is not someone else's
        for n in range(count):
            try:
                authentication.sign_in(archive, ADMIN, f"guess {n}", str(address), now=now)
            except Throttled:
                pass
    assert authentication.sign_in(archive, ADMIN, PASSWORD, person, now=now) is not None


@given(st.one_of(st.text(max_size=100), st.ip_addresses().map(str)))
def test_any_address_is_counted_as_at_most_64_characters_and_never_fails(address: str) -> None:
    counted = authentication.source(address)
    assert len(counted) <= 64 and "\x00" not in counted  # fits its column; PostgreSQL takes it
    assert authentication.source(counted) == counted  # counting again changes nothing


def test_guesses_sent_all_at_once_are_counted_one_after_another(web_app: Flask, world: World,
                                                                archive_home: Path) -> None:
    """A burst of guesses gets what one guess would: the first is checked, the others are told
    to wait (each attempt claims its count before its password is checked, one at a time)."""
    spent = datetime.now(UTC) - authentication.FIRST_WAIT - timedelta(seconds=5)  # free failures used, wait passed
    for n in range(authentication.PAIR.free):
        sql(archive_home, "INSERT INTO sign_in_failures (account, address, at) VALUES (:account, :address, :at)",
            account=ADMIN, address="203.0.113.50", at=(spent - timedelta(minutes=n)).replace(tzinfo=None))
    clients = [_from(web_app.test_client(), "203.0.113.50") for _ in range(8)]
    tokens = [re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', c.get("/login").get_data(as_text=True))
              for c in clients]
    start = threading.Barrier(len(clients))

    def guess(n: int) -> int:
        token = tokens[n]
        assert token
        start.wait()
        response = clients[n].post("/login", data={"email": ADMIN, "password": f"guess {n}",
                                                   "csrf_token": token.group(1)})
        response.close()
        return response.status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = sorted(pool.map(guess, range(len(clients))))

    assert answers == [200] + [429] * (len(clients) - 1)
