"""Emergency alerts: drafting, approval, outbox and delivery (issue C)."""
