"""Emergency alerts: drafting, approval, outbox and delivery."""
