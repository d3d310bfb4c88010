"""The profile summary counts purchases and reviews apart and never contradicts itself."""

from __future__ import annotations

from bot.chat.skills.profile import profile_summary
from bot.recsys.history import UserView
from knowledge.schema import Event, Item

ITEMS = {
    "strings": Item("strings", "Bronze strings", "Wirewell", ("Music", "Strings"), 9.0),
    "tuner": Item("tuner", "Clip-on tuner", "Tunely", ("Music", "Tuners"), 15.0),
    "picks": Item("picks", "Guitar picks", "Wirewell", ("Music", "Picks"), 4.0),
}


def test_counts_and_one_verdict_per_item() -> None:
    events = [
        Event("ana", "strings", "purchase", 100, 0),
        Event("ana", "tuner", "purchase", 200, 1),
        Event("ana", "strings", "review", 300, 2, rating=5.0, text="Bright."),
        Event("ana", "tuner", "review", 400, 3, rating=5.0, text="Handy."),
        Event("ana", "strings", "feedback", 500, 4, detail="not_interested"),
        Event("ana", "picks", "purchase", 600, 5),
    ]
    text, data = profile_summary(UserView("ana", events, now=700), ITEMS)
    assert text.startswith("From your 3 purchases and 2 reviews with us:")
    assert data["purchases"] == 3 and data["reviews"] == 2
    assert data["likes"] == ["Clip-on tuner"] and data["dislikes"] == ["Bronze strings"]
    assert not set(data["likes"]) & set(data["dislikes"])  # type: ignore[arg-type]
    assert "thumbs" not in text and "Not interested" in text
    one, _ = profile_summary(UserView("bo", [events[0], events[2]], now=700), ITEMS)
    assert one.startswith("From your 1 purchase and 1 review with us:")
