"""Vietnamese and English: messages by key, said in the language the request asks for.

Code writes each message once, in English, with named placeholders:

    msg("{field} must be at most {n} characters.", field="title", n=200)

The English text with its placeholders is the message's key (gettext's msgid): the catalog
`locale/vi/LC_MESSAGES/aidmap.po` (beside this file) gives its Vietnamese, and `make messages`
extracts every `msg()` into `locale/aidmap.pot` and merges it into the catalogs. A message reworded in
English is a new key without Vietnamese until someone translates it; tests/test_i18n.py fails until
then (it used to be a regex here that silently stopped matching). docs/translations.md says how.

`msg()` returns the English text (a `str`, so logs, tests and English clients read it as before) that
remembers its key and values; `translate()` says it in the request's language when it reaches the
client. Values named `field`, `status` or `kind` are words of the API (an input field, a status) and are
translated too, from the catalog contexts of the same name (terms.py lists them); any other
value (a number, a unit a person typed) is kept as it is. English is the default.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

SUPPORTED = ("vi", "en")
SOURCE = "en"  # the language the code is written in: no catalog
language: ContextVar[str] = ContextVar("aidmap_language", default="en")

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "aidmap"
# Placeholders whose values are themselves words of the API, translated from this context.
TERM_PARAMS = {"field": "field", "status": "status", "kind": "kind"}
# What marks a text for the catalog, as Babel's extractor reads it (the Makefile's `make messages`
# passes the same as -k msg -k N_ -k term:1c,2; tests/test_i18n.py extracts with these).
KEYWORDS = {"msg": None, "N_": None, "term": ((1, "c"), 2)}


def pick(accept_language: str | None) -> str:
    """The supported language the client prefers most ('en' when it names none of them)."""
    best, best_q = "en", -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in SUPPORTED:
            continue
        q = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        # Equal weights: the earlier one wins.
        if q > best_q or (q == best_q and position == 0):
            best, best_q = code, q
    return best


class Message(str):
    """A message in English that keeps its key and values, to be said in another language later."""

    msgid: str
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any]) -> Message:
        self = super().__new__(cls, msgid.format_map(params))  # a missing value fails here, in tests
        self.msgid, self.params = msgid, dict(params)
        return self

    def __str__(self) -> str:
        return self  # str(exception) keeps the key (graphql-core builds a located error's message so)

    def __reduce__(self) -> tuple[Any, ...]:
        return Message, (self.msgid, self.params)


def msg(msgid: str, /, **params: Any) -> Message:
    """A message for people, by its English text with {named} placeholders (extracted by `make messages`)."""
    return Message(msgid, params)


def N_(msgid: str) -> str:  # noqa: N802 (gettext's name for "mark only")
    """Marks a text for the catalog without formatting it (formatted later, e.g. an SMS per recipient)."""
    return msgid


def term(context: str, word: str) -> str:
    """Marks a word of the API (an input field, a status, a category) for the catalog, in `context`."""
    return word


def plain(text: str) -> str:
    """Vietnamese without diacritics (đ too, which has no decomposition): one GSM-7 SMS, as banks send."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def placeholders(text: str) -> set[str]:
    """The names of a text's {placeholders}."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def catalog(lang: str) -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> translation for one language, read from its .po file (loaded once per process;
    no compiled .mo to keep current). Fuzzy or empty entries are not translations."""
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    found: dict[tuple[str | None, str], str] = {}
    for entry in po:
        translated = isinstance(entry.id, str) and isinstance(entry.string, str) and entry.string
        if entry.id and translated and not entry.fuzzy:
            found[(entry.context, entry.id)] = entry.string
    return found


def load() -> None:
    """Reads every catalog now (at start-up), so a broken one stops the server instead of a request."""
    for lang in SUPPORTED:
        if lang != SOURCE:
            catalog(lang)


def _lang(lang: str | None) -> str:
    lang = lang or language.get()
    return lang if lang in SUPPORTED else SOURCE


def gettext(msgid: str, lang: str | None = None) -> str | None:
    """The translation of `msgid` (None when the catalog has none); the msgid itself in English."""
    lang = _lang(lang)
    return msgid if lang == SOURCE else catalog(lang).get((None, msgid))


def pgettext(context: str, word: str, lang: str | None = None) -> str:
    """A word of the API in `lang` (the word itself when the catalog has none)."""
    lang = _lang(lang)
    return word if lang == SOURCE else catalog(lang).get((context, word), word)


def say(message: Message, lang: str | None = None) -> str | None:
    """`message` in `lang` (the request's by default), or None when the catalog has no translation."""
    lang = _lang(lang)
    if lang == SOURCE:
        return str.__str__(message)
    text = gettext(message.msgid, lang)
    if text is None:
        return None
    params = {
        name: pgettext(TERM_PARAMS[name], value, lang) if name in TERM_PARAMS and isinstance(value, str) else value
        for name, value in message.params.items()
    }
    return text.format_map(params)


def translate(message: str, code: str | None, lang: str | None = None) -> str:
    """The message in the request's language: its translation by key, else the general message for its
    code (a message not made with msg(), or not translated yet), else the English."""
    lang = _lang(lang)
    if lang == SOURCE:
        return str.__str__(message)
    if isinstance(message, Message):
        said = say(message, lang)
        if said is not None:
            return said
    return catalog(lang).get(("code", code or ""), str.__str__(message))
