"""User-interest summaries from the user's own purchases, reviews and feedback."""

from __future__ import annotations

from collections import Counter

from bot.recsys.history import UserView
from knowledge.schema import Item

__all__ = ["profile_summary"]


def profile_summary(view: UserView, items: dict[str, Item]) -> tuple[str, dict[str, object]]:
    """A readable summary and its structured form (interests, brands, likes, dislikes)."""
    if view.is_new and not view.rejected:
        text = (
            "I don't know anything about you yet: you have no purchases or reviews with us. "
            "Tell me what you're shopping for and I'll suggest something."
        )
        return text, {"interests": [], "brands": [], "likes": [], "dislikes": [], "purchases": 0}
    cats: Counter[str] = Counter()
    brands: Counter[str] = Counter()
    for e in view.purchases:
        item = items.get(e.item_id)
        if item is None:
            continue
        if item.categories:
            cats[item.categories[0]] += 1
            if len(item.categories) > 1:
                cats[item.categories[-1]] += 0
        if item.brand:
            brands[item.brand] += 1
    # one verdict per item: a low rating or "not interested" outweighs an earlier like
    disliked = {e.item_id for e in view.reviews if e.rating is not None and e.rating <= 2}
    disliked |= view.rejected
    likes = [items[i].title for i in view.liked - disliked if i in items]
    dislikes = [items[i].title for i in disliked if i in items]
    interests = [c for c, _n in cats.most_common(4)]
    top_brands = [b for b, n in brands.most_common(3) if n >= 2]
    # view.purchases also holds the reviews (a review means they own it): count orders apart
    n_orders = sum(e.kind == "purchase" for e in view.purchases)
    lines = [
        f"From your {_count(n_orders, 'purchase')} and {_count(len(view.reviews), 'review')} with us:"
    ]
    if interests:
        lines.append("- You mostly shop for " + ", ".join(interests) + ".")
    if top_brands:
        lines.append("- Brands you come back to: " + ", ".join(top_brands) + ".")
    if likes:
        lines.append("- You liked: " + "; ".join(sorted(likes)[:4]) + ".")
    if dislikes:
        lines.append("- Not for you: " + "; ".join(sorted(set(dislikes))[:4]) + ".")
    recent = [items[e.item_id].title for e in view.purchases[-3:] if e.item_id in items]
    if recent:
        lines.append("- Most recently: " + "; ".join(recent) + ".")
    lines.append(
        "To correct this, tell me \u201cnot interested in \u2026\u201d or \u201cI already have "
        "\u2026\u201d, or press \u201cNot interested\u201d on a suggestion. Say \u201cforget me\u201d "
        "to delete all your data."
    )
    data = {
        "interests": interests,
        "brands": top_brands,
        "likes": sorted(likes),
        "dislikes": sorted(set(dislikes)),
        "purchases": n_orders,
        "reviews": len(view.reviews),
    }
    return "\n".join(lines), data


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
