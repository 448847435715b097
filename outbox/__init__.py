"""The shared outbox sender: multicast batches and pushes that features queue in store.outbox."""
