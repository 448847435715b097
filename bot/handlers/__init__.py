"""Event handlers; importing this package registers them with bot.events."""

from bot.handlers import bulky, chat, garbage, menu, opinions, reports, residents, shelters, surveys  # noqa: F401
