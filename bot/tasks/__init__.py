"""The language model's tasks: prompts, the one-pass ranker, next-need phrases, descriptions."""
