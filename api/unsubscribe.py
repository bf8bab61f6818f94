"""The unsubscribe link of a non-transactional e-mail: a page a person can use, and RFC 8058's one-click POST.

A GET (a person opening the link, or a mail scanner fetching it) changes nothing and shows a button; the POST
(that button, or the mail client's ``List-Unsubscribe=One-Click``) turns the category off. RFC 8058 section
3.2: the POST must not need cookies, a login or a redirect, so it answers in place. A person gets HTML; a
program asking for ``application/json`` gets JSON."""

from __future__ import annotations

from html import escape

from aiohttp import web

from api.errors import ApiError
from api.keys import SESSIONS, SETTINGS
from api.openapi import RouteTable
from domain.unsubscribe import BadToken, ExpiredToken
from services.unsubscribe import Subscription, subscription

routes = RouteTable("preferences", public=True)

PATH = "/v1/unsubscribe/{token}"
LABELS = {"reminders": "reminders", "review_requests": "review requests", "announcements": "announcements"}
ERRORS = {
    "403": "not a link Keeptime signed",
    "404": "the customer no longer exists",
    "410": "the link has expired: a newer message carries a new one",
}


@routes.get(
    PATH,
    "The page an unsubscribe link opens: what it would turn off, and a button (nothing changes)",
    ok={"200": "the business, the category and whether it is on"},
    html={"200": "the page", **ERRORS},
    errors=ERRORS,
)
@routes.post(
    PATH,
    "RFC 8058 one-click unsubscribe (List-Unsubscribe-Post), or the page's button: turn the category off",
    ok={"200": "the category is off (a repeat answers the same)"},
    html={"200": "the page", **ERRORS},
    errors=ERRORS,
)
async def unsubscribe(request: web.Request) -> web.Response:
    wants_json = _wants_json(request)
    try:
        found = await subscription(
            request.app[SESSIONS],
            request.app[SETTINGS],
            request.match_info["token"],
            unsubscribe=request.method == "POST",
        )
    except ExpiredToken:
        return _refused(410, "expired", "This link has expired", ERRORS["410"], wants_json)
    except BadToken:
        return _refused(403, "forbidden", "This link is not valid", ERRORS["403"], wants_json)
    if found is None:
        return _refused(404, "not_found", "Nothing to unsubscribe", ERRORS["404"], wants_json)
    if wants_json:
        return web.json_response(
            {
                "business": found.business_name,
                "customer_id": found.grant.customer_id,
                "category": found.category,
                "subscribed": found.subscribed,
            }
        )
    return web.Response(text=_page(found, request.path), content_type="text/html")


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _refused(status: int, code: str, title: str, why: str, wants_json: bool) -> web.Response:
    if wants_json:
        raise ApiError(status, code, why, fields=[{"field": "token", "message": why}])
    body = f"<h1>{escape(title)}</h1><p>{escape(why[0].upper() + why[1:])}.</p>"
    return web.Response(status=status, text=_document(title, body), content_type="text/html")


def _page(found: Subscription, path: str) -> str:
    what = LABELS[found.category]
    business = escape(found.business_name)
    if found.subscribed:
        body = (
            f"<h1>Stop {what} from {business}?</h1>"
            f"<p>You will still receive messages about your bookings (confirmations, changes, "
            f"cancellations).</p>"
            f'<form method="post" action="{escape(path)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">Unsubscribe from {what}</button></form>'
        )
    else:
        body = (
            f"<h1>You are unsubscribed</h1><p>{business} will send you no more {what}. Messages about "
            "your bookings still reach you. To turn them back on, ask the business.</p>"
        )
    return _document(f"{what.capitalize()} from {found.business_name}", body)


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto; padding: 0 1em">'
        f"{body}</body></html>"
    )
