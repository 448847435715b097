"""The lower layer every feature shares: the message catalog (i18n, every language), the one LINE
client (line_api), the ward's areas, the residents' pseudonym, staff accounts (security) and the
delivery rules (delivery). Imports nothing above store/, faq/ and nlp/ (tests/test_architecture.py)."""
