"""Which language a message is in, and what to say when the assistant can't serve it.

Detection counts very common function words per language: enough to tell a German or Spanish
sentence from an English one with a few product names in it, with no model download. The
assistant serves English; for the languages it can detect it answers with one fixed sentence
in that language instead of guessing at a list.
"""

from __future__ import annotations

import re

__all__ = ["detect_language", "UNSUPPORTED_REPLY", "SERVED_LANGUAGES"]

SERVED_LANGUAGES = ("en",)

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the a an and or is are i you my me for with what should get need want to of in on it "
        "this that do does have has some any can could please next buy".split()
    ),
    "de": frozenset(
        "der die das und ich du nicht für ein eine einen mit ist sind was soll sollte kaufen "
        "habe hast haben mein meine bitte etwas noch auch wie oder brauche möchte gibt es "
        "zu von den dem sie ohne kein keine wir ihr danke hallo guten tag gibt's haben "
        "welche welcher schon".split()
    ),
    "es": frozenset(
        "el la los las y que para por una un con es son quiero algo comprar tengo mi mis "
        "necesito qué debería puedo hay también pero del al como busco eso esto todo gracias "
        "hola sin tienen tiene buenos días nada más".split()
    ),
    "fr": frozenset(
        "le la les et je pour une un avec est sont quoi dois acheter ai mon ma mes besoin "
        "voudrais quelque chose aussi mais du des au cherche merci bonjour sans avez vous "
        "c'est tout".split()
    ),
    "it": frozenset(
        "il lo gli e che per una uno con è sono cosa devo comprare ho mio mia bisogno vorrei "
        "qualcosa anche ma del della delle dei degli col nel nella alla per cerco grazie ciao "
        "senza avete tutto".split()
    ),
    "nl": frozenset(
        "de het een en ik je niet voor met is zijn wat moet kopen heb mijn nodig graag iets "
        "ook maar van dank bedankt hallo zonder hebben jullie alles".split()
    ),
    "pt": frozenset(
        "o a os as e que para por uma um com é são quero algo comprar tenho meu minha preciso "
        "também mas do da obrigado obrigada olá sem vocês tudo".split()
    ),
}

UNSUPPORTED_REPLY: dict[str, str] = {
    "de": "Entschuldigung, ich kann im Moment nur auf Englisch helfen. Bitte schreiben Sie mir "
    "auf Englisch, zum Beispiel: \u201cWhat should I get next?\u201d",
    "es": "Lo siento, por ahora solo puedo ayudar en inglés. Escríbame en inglés, por ejemplo: "
    "\u201cWhat should I get next?\u201d",
    "fr": "Désolé, je ne peux aider qu'en anglais pour le moment. Écrivez-moi en anglais, par "
    "exemple : \u201cWhat should I get next?\u201d",
    "it": "Mi dispiace, per ora posso aiutare solo in inglese. Scrivimi in inglese, per esempio: "
    "\u201cWhat should I get next?\u201d",
    "nl": "Sorry, ik kan op dit moment alleen in het Engels helpen. Schrijf me in het Engels, "
    "bijvoorbeeld: \u201cWhat should I get next?\u201d",
    "pt": "Desculpe, por enquanto só posso ajudar em inglês. Escreva-me em inglês, por exemplo: "
    "\u201cWhat should I get next?\u201d",
}

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# letters and marks English doesn't use: with the function words, a strong sign
_FOREIGN_MARKS = re.compile(r"[¿¡ñßäöüàâçéèêëîïôûùœáíóú]", re.I)


def detect_language(text: str) -> str:
    """An ISO 639-1 code for ``text`` ("en" when unsure: short or mixed messages)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return "en"
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in _FUNCTION_WORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    if best == "en" or counts[best] < 2:
        return "en"
    if _FOREIGN_MARKS.search(text) and counts[best] > counts["en"]:
        return best
    # clearly more of that language's words than English ones (shared words like "a" count
    # for both)
    if counts[best] >= counts["en"] + 2 or (counts[best] >= 3 and counts["en"] <= 1):
        return best
    return "en"
