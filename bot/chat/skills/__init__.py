"""What the assistant can do, one module per capability, each with its templates next to it:
recommend and refine lists (``recommend``), explain, describe and compare items (``items``,
``product_questions``), order history (``orders``), reviews and replies to them (``reviews``),
the customer's profile, export and forget (``account``, ``profile``), greetings and
everything off topic (``smalltalk``). A handler gets the narrow :class:`bot.chat.context.Context`
and the turn, never the whole assistant."""
