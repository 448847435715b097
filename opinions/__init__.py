"""Opinions (ご意見・ご提案): residents write to the ward in the chat; staff read, reply and report."""
