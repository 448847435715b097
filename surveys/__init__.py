"""Surveys (アンケート): staff ask, residents answer by tapping in the chat."""
