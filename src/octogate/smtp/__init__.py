"""E-mail to SMS (the document's "Campagne de SMS par requête SMTP"): a mail to sms@<domain> becomes the same
service call as /api/sms, and every mail's outcome is kept in the inbox (`octogate inbox`).

    parse.py    pure: mail bytes → API parameters, or why the mail cannot be read (layouts, MIME, wraps)
    ingest.py   one mail → gateway.submit_sms(params, source="smtp") → an inbox row, durably
    handler.py  the aiosmtpd hooks: push address only at RCPT (550 otherwise), 250/451 after DATA
    server.py   settings, and the listener started on the gateway's running loop (start_smtp / stop)
    cli.py      `octogate inbox`

Choices, in short (each module's docstring says why):
- `request_id` (`[a-zA-Z0-9]{12,30}`) is checked before the credentials; without a valid one the mail is
  "ignored" (the document's word) and recorded so. Its uniqueness is the campaigns table's, shared with HTTP.
- Outcomes: accepted (ticket), refused (API code), ignored (request_id), rejected (unreadable mail). 250 is
  answered once the outcome is durable; 451 when it could not be recorded or the service is paused (116),
  so that the sender's MTA retries; nothing is ever sent twice (request_id).
- The API key is never stored or logged: it is removed from the subject kept in the inbox, and aiosmtpd's
  own logger is held at WARNING (at DEBUG it logs every DATA line).
- Parsing uses `email.policy.compat32` (measured ~13× cheaper than `policy.default`).
- Importing this package does not import aiosmtpd: only server.py and handler.py's caller need it.
"""
