"""The current Octopush REST API (JSON, `/v1/public/...`): its own rules and shapes, pure.

Everything that is REST-only lives here (field names and types, lenient casting, purposes, the appended STOP
mention, the 24 h life of a request_id, `auto_remove_blacklisted_numbers`, `send_at` spellings, the error body and
its HTTP status, the push bodies); everything else (validation of numbers and senders, pricing, credit, hours, the
STOP list) is the 1.6.1 path's, reached through the same `SmsRequest` and the same service.
"""
