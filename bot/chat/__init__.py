"""The dialogue: routing, dialogue state, and one module per capability (recommend, items,
orders, account, reviews, smalltalk) with its templates beside it."""
