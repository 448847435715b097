"""The lower layer every feature shares: the message catalog (languages), the one LINE client,
the residents' pseudonym. Imports nothing above store/ and nlp/."""
