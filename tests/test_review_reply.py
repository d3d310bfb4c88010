"""bot.tasks.review_reply: what a review asks of a reply, and the checks a model reply must pass
(no model: golden replies checked by hand)."""

from __future__ import annotations

import pytest

from bot.tasks.review_reply import model_reply, reply_checks, review_kind


@pytest.mark.parametrize(
    ("text", "rating", "kind"),
    [
        ("My dog got sick after eating these.", 2.0, "safety"),
        ("Gave me a rash on day one.", None, "safety"),
        ("The lid cracked.", 1.0, "complaint"),
        ("It arrived a few days late. Fine for the price.", 3.0, "mixed"),
        ("Love it, works great.", 5.0, "praise"),
    ],
)
def test_review_kind(text: str, rating: float | None, kind: str) -> None:
    assert review_kind(text, rating) == kind


def test_safety_reply_needs_escalation_and_a_next_step() -> None:
    review = "My dog got sick after eating these."
    good = (
        "We're very sorry to hear that your dog got sick. Please stop using it and ask a vet. "
        "Please contact our customer service team so our product safety team can follow up."
    )
    assert all(reply_checks(good, review, 1.0, "Dog Treats").values())
    bland = "We're sorry it disappointed you. Please contact our support team."
    checks = reply_checks(bland, review, 1.0, "Dog Treats")
    assert not checks["escalation_when_needed"] and checks["next_step_when_needed"]


def test_invented_numbers_and_promises_fail() -> None:
    review = "The lid cracked."
    reply = "Sorry! Contact us and we will send a full refund within 3 days."
    checks = reply_checks(reply, review, 1.0, "Jar, 300 ml")
    assert not checks["no_invented_numbers"] and not checks["no_invented_promises"]
    # a number or word from the inputs is not invented
    ok = reply_checks(
        "Sorry the 300 ml jar cracked; please contact us.", review, 1.0, "Jar, 300 ml"
    )
    assert ok["no_invented_numbers"] and ok["no_invented_promises"]


def test_praise_gets_thanks_not_an_apology() -> None:
    checks = reply_checks("We're sorry to hear that.", "Love it.", 5.0, "Shampoo")
    assert not checks["no_apology_for_praise"]
    assert all(reply_checks("Thank you so much for your review!", "Love it.", 5.0, "X").values())


class _Fixed:
    """A generator that always answers the same text (a tiny real implementation)."""

    name = "fixed"

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, messages: object, max_new_tokens: int, stop: object = None) -> str:
        return self.text


def test_model_reply_is_dropped_when_a_check_fails() -> None:
    review, title = "The lid cracked.", "Jar"
    good = "We're sorry about the breakage. Please contact our customer service team."
    assert model_reply(_Fixed(good), review, 1.0, title) == good  # type: ignore[arg-type]
    bad = "We're sorry. Here is a 20% discount code."
    assert model_reply(_Fixed(bad), review, 1.0, title) == ""  # type: ignore[arg-type]


def test_safety_wording_for_a_late_parcel_fails() -> None:
    reply = (
        "We're sorry it was late. Please stop using it and see a doctor; contact our support team."
    )
    checks = reply_checks(reply, "It arrived two weeks late.", 2.0, "Coffee Beans")
    assert not checks["no_escalation_without_report"] and checks["next_step_when_needed"]
