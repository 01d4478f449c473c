"""The workspace platform: people, sessions, CSRF, cookies, roles and error pages."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select

from gateway.app import create_app
from gateway.cli import main
from gateway.errors import Conflict, UserError
from gateway.services.agents import add_agent
from gateway.services.people import Role
from gateway.services.sessions import load_session, open_session
from gateway.services.users import (
    LoginRefused,
    add_user,
    authenticate,
    get_user,
    reset_password,
    set_disabled,
)
from gateway.settings import Settings
from schemas.tables import users, web_sessions
from tests.workspace.kit import PASSWORD, csrf_of, sign_in


def test_passwords_are_argon2_hashes_and_one_time_ones_must_change(engine: Engine) -> None:
    created = add_user(engine, "Ana", Role.ACCOUNTANT)
    assert created.one_time and len(created.password) >= 20
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and created.password not in stored
    user = authenticate(engine, "ana", created.password)
    assert user.username == "ana" and user.must_change_password
    with pytest.raises(Conflict):
        add_user(engine, "ana", Role.VIEWER)
    with pytest.raises(UserError, match="10 characters"):
        add_user(engine, "bob", Role.VIEWER, password="short")


def test_lock_out_after_repeated_wrong_passwords(engine: Engine) -> None:
    add_user(engine, "ana", Role.ACCOUNTANT, password=PASSWORD)
    now = datetime.now(UTC)
    for _ in range(4):
        with pytest.raises(LoginRefused, match="wrong user name or password"):
            authenticate(engine, "ana", "nope", max_failures=5, now=now)
    authenticate(engine, "ana", PASSWORD, max_failures=5, now=now)  # resets the count
    for _ in range(5):
        with pytest.raises(LoginRefused, match="wrong"):
            authenticate(engine, "ana", "nope", max_failures=5, lock_minutes=15, now=now)
    with pytest.raises(LoginRefused, match="locked until"):
        authenticate(engine, "ana", PASSWORD, now=now + timedelta(minutes=14))
    assert authenticate(engine, "ana", PASSWORD, now=now + timedelta(minutes=16)).username == "ana"


def test_unknown_and_disabled_people_get_the_same_refusal(engine: Engine) -> None:
    add_user(engine, "ana", Role.ACCOUNTANT, password=PASSWORD)
    set_disabled(engine, "ana", True)
    for name in ("ana", "nobody"):
        with pytest.raises(LoginRefused, match=r"^wrong user name or password$"):
            authenticate(engine, name, PASSWORD)


def test_sessions_expire_when_idle_and_end_on_disable_or_reset(engine: Engine) -> None:
    user = add_user(engine, "ana", Role.ACCOUNTANT, password=PASSWORD)
    uid = get_user(engine, user.username).id
    start = datetime.now(UTC)
    token = open_session(engine, uid, now=start)
    kw = {"idle_minutes": 30, "max_hours": 12}
    assert load_session(engine, token, now=start + timedelta(minutes=29), **kw) is not None
    # the load above touched the session: idle counts from then
    assert load_session(engine, token, now=start + timedelta(minutes=58), **kw) is not None
    assert load_session(engine, token, now=start + timedelta(minutes=89), **kw) is None
    assert load_session(engine, token, now=start, **kw) is None  # deleted, not just refused
    token = open_session(engine, uid)
    set_disabled(engine, "ana", True)
    assert load_session(engine, token, **kw) is None
    set_disabled(engine, "ana", False)
    token = open_session(engine, uid)
    reset_password(engine, "ana")
    assert load_session(engine, token, **kw) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 0


def test_users_cli_prints_a_one_time_password_or_reads_stdin(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    # main() would point the loggers at pytest's captured stderr, closed after this test
    monkeypatch.setattr("gateway.logging.configure_logging", lambda *a, **k: None)
    assert main(["users", "add", "ana", "--role", "accountant"]) == 0
    password = capsys.readouterr().out.strip().splitlines()[-1]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["users", "add", "sam", "--role", "supervisor", "--password-stdin"]) == 0
    assert main(["users", "add", "bad", "--role", "accountant", "--password-stdin"]) == 2
    assert main(["users", "disable", "sam"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "sam" in out and "disabled" in out and "one-time password" in out
    assert main(["users", "reset", "nobody"]) == 3
    assert main(["users", "reset", "ana"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] != password


def test_root_and_pages_redirect_to_the_login_form(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/"
    r = client.get("/app/queue?reason=NAME_ONLY", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login?next=/app/queue%3Freason%3DNAME_ONLY"


def test_login_sets_a_strict_session_cookie_and_opens_the_queue(client: TestClient) -> None:
    form = client.get("/app/login?next=/app/queue")
    r = client.post(
        "/app/login",
        data={"username": "ana", "password": PASSWORD, "_csrf_token": csrf_of(form.text),
              "next": "/app/queue"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/app/queue"
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and "plata_session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    assert "Secure" not in cookie
    page = client.get("/app/queue")
    assert page.status_code == 200 and "Review queue" in page.text and "Ana" in page.text


def test_secure_cookies_when_served_over_https(
    settings: Settings, engine: Engine, queue_ids
) -> None:
    app = create_app(settings.with_(https=True), engine)
    with TestClient(app, base_url="https://gateway.local") as c:
        form = c.get("/app/login")
        assert "secure" in form.headers["set-cookie"].lower()
        r = c.post(
            "/app/login",
            data={"username": "ana", "password": PASSWORD, "_csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_and_missing_csrf_are_refused_without_a_session(
    client: TestClient,
) -> None:
    form = client.get("/app/login")
    r = client.post(
        "/app/login", data={"username": "ana", "password": "x", "_csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 401 and "wrong user name or password" in r.text
    r = client.post("/app/login", data={"username": "ana", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text and "Traceback" not in r.text
    assert "plata_session" not in r.headers.get("set-cookie", "")


def test_one_time_password_must_be_changed_first(client: TestClient, engine: Engine) -> None:
    temp = reset_password(engine, "ana").password
    sign_in(client, "ana", temp)
    r = client.get("/app/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/password"
    form = client.get("/app/password")
    token = csrf_of(form.text)
    bad = client.post("/app/password", data={"current": temp, "new": "ana-is-me-12", "again":
                                              "ana-is-me-12", "_csrf_token": token})  # fmt: skip
    assert bad.status_code == 400 and "user name" in bad.text
    r = client.post(
        "/app/password",
        data={"current": temp, "new": "a fresh secret", "again": "a fresh secret",
              "_csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    page = client.get("/app/queue")
    assert page.status_code == 200 and "Password changed." in page.text


def test_logout_ends_the_session(client: TestClient) -> None:
    sign_in(client, "ana")
    token = csrf_of(client.get("/app/queue").text)
    old = client.cookies.get("plata_session")
    assert client.post("/app/logout", data={"_csrf_token": token}).status_code == 200
    client.cookies.set("plata_session", old, domain="gateway.local", path="/app")
    assert client.get("/app/queue", follow_redirects=False).status_code == 303


def test_agent_keys_open_no_page_and_sessions_open_no_bank_api(
    client: TestClient, engine: Engine
) -> None:
    agent = add_agent(engine, "maib")
    r = client.get("/app/queue", headers={"X-API-Key": agent.key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")
    sign_in(client, "sam")
    assert client.get("/app/queue").status_code == 200
    r = client.get("/pf/v1/accounts/10000012", headers={"Cookie": _cookie_header(client)})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    assert "csrf" not in r.headers.get("set-cookie", "")


def _cookie_header(client: TestClient) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)


def test_errors_are_friendly_pages_without_tracebacks(client: TestClient) -> None:
    sign_in(client, "ana")
    r = client.get("/app/no-such-page")
    assert r.status_code == 404 and "Not found" in r.text and "<html" in r.text
    r = client.get("/app/queue?amount_min=12,345.6x")
    assert r.status_code == 400 and "minimum amount" in r.text
    r = client.get("/app/queue?after=garbage!")
    assert r.status_code == 400 and "cursor" in r.text
    assert client.get("/app/static/htmx.min.js").status_code == 200


def test_demo_people_are_created_once_and_can_sign_in(engine: Engine, tmp_path) -> None:
    from gateway.demo_people import demo_people

    first = demo_people(engine, tmp_path)
    assert set(first) == {"accountant", "supervisor", "finance", "viewer"}
    assert demo_people(engine, tmp_path) == first
    user = authenticate(engine, "supervisor", first["supervisor"])
    assert user.role is Role.SUPERVISOR and not user.must_change_password
