"""Delivery: the dispatcher claims due messages from the store and hands them to SMPP connectors."""
