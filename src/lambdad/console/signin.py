"""Signing in and out: the form, the check against the server's credentials (as SigV4
checks a signature: the access key names the credential, the secret must match), and
a brake on guessing (``Guard``: after ``FAILURES`` wrong secrets for one key id within
``WINDOW`` seconds, that key id cannot sign in for ``WINDOW`` seconds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lambdad.console.layout import e, page
from lambdad.console.sessions import Session, SessionBook, check_secret
from lambdad.console.web import PREFIX, Request, Response, clear_cookie, html, redirect, set_cookie
from lambdad.model.credential import Credential

FAILURES = 5
WINDOW = 60.0


@dataclass
class Guard:
    clock: Callable[[], float]
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def locked(self, key_id: str) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(key_id, []) if now - t < WINDOW]
        if recent:
            self._failures[key_id] = recent
        else:
            self._failures.pop(key_id, None)
        return len(recent) >= FAILURES

    def failed(self, key_id: str) -> None:
        if len(self._failures) > 10_000:  # someone spraying key ids: forget the oldest
            self._failures.clear()
        self._failures.setdefault(key_id, []).append(self.clock())

    def succeeded(self, key_id: str) -> None:
        self._failures.pop(key_id, None)


def form(message: str = "", key_id: str = "", status: int = 200) -> Response:
    alert = f'<p class="alert" role="alert">{e(message)}</p>' if message else ""
    body = (
        '<section class="signin card"><h1><span class="brand">λ lambdad</span> console</h1>'
        "<p>Sign in with an access key of this server "
        "(<code>lambdad credentials</code> prints one).</p>"
        f'{alert}<form method="post" action="{PREFIX}/signin" autocomplete="off">'
        '<label for="access_key_id">Access key ID</label>'
        f'<input id="access_key_id" name="access_key_id" value="{e(key_id)}" required '
        'autocapitalize="off" spellcheck="false">'
        '<label for="secret">Secret access key</label>'
        '<input id="secret" name="secret" type="password" required>'
        '<button type="submit" class="primary">Sign in</button></form></section>'
    )
    return html(page("Sign in", None, body), status)


def sign_in(
    req: Request,
    lookup: Callable[[str], Credential | None],
    book: SessionBook,
    guard: Guard,
    region: str,
) -> Response:
    key_id = req.form.get("access_key_id", "").strip()[:128]
    secret = req.form.get("secret", "")[:256]
    if not key_id or not secret:
        return form("Enter the access key ID and the secret access key.", key_id, 400)
    if guard.locked(key_id):
        return form("Too many failed sign-ins for this key. Wait a minute.", key_id, 429)
    credential = lookup(key_id)
    if credential is None or not check_secret(credential, secret):
        guard.failed(key_id)
        return form("The access key ID or the secret access key is not right.", key_id, 401)
    guard.succeeded(key_id)
    token, _ = book.open(credential, region)
    return redirect(f"{PREFIX}/functions", [set_cookie(token, int(book.lifetime))])


def sign_out(req: Request, book: SessionBook) -> Response:
    book.close(req.cookie)
    return redirect(f"{PREFIX}/signin", [clear_cookie()])


def signed_in_redirect(session: Session | None) -> Response:
    return redirect(f"{PREFIX}/functions" if session else f"{PREFIX}/signin")
