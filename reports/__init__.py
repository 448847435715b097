"""Residents' reports (a broken road, light or park): flow, kinds, photos, Open311 — no Flask, no LINE SDK.

`kinds` reads the ward's list of report kinds (CSV), `flow` decides what the bot asks next,
`images` verifies and re-encodes photos (EXIF stripped), `media` stores them behind one small
interface, `geo` names the nearest area, `open311` maps reports to GeoReport v2, and `service`
ties them to the database (store/reports.py). `web` is the public Open311 surface.
"""
