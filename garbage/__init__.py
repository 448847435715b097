"""Garbage: the 5374 data format, collection calendars, the sorting list, 粗大ごみ requests.

Pure logic (no Flask, no LINE); storage in store.garbage, replies in bot.handlers.garbage.
"""
