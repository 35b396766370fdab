"""What the SMSC sends back: delivery receipts and incoming texts (STOPs, replies), turned into store state
and pushes owed to customers. Pure logic lives in small modules (statuses, ids, keywords, payloads, concat);
`apply`, `texts` and `submits` are the transactions (they call `octogate.store.incoming`, which only runs SQL),
`handler` is the connectors' `on_deliver` and the maintenance loop."""
