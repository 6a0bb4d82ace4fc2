"""Use cases: what the chat, the CLI and the delivery engine do, one function each.

Each takes a session (or the database runner) and `now`, returns plain data, and knows
nothing of Telegram.
"""
