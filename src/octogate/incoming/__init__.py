"""What the SMSC sends back: delivery receipts and incoming texts (STOPs, replies), turned into store state
and pushes owed to customers. Pure logic lives in small modules (statuses, ids, keywords, payloads, concat);
`handler` is the connectors' `on_deliver`, `octogate.store.incoming` the SQL."""
