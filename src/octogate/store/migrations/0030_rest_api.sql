-- octogate schema, version 30: the current Octopush REST API (JSON, /v1/public).
--
-- The REST API's callbacks are set per account (PATCH /v1/public/user/campaign-parameters/edit), apart from the
-- 1.6.1 URLs: a REST campaign is reported in JSON to these, a 1.6.1 campaign in form fields to the others.
-- email_for_inbounds is kept and read back (octogate sends no e-mail); default_sender is used when a REST
-- request names no sender (campaign_parameters.sender_for_sms_premium).
ALTER TABLE accounts ADD COLUMN rest_receipt_url TEXT;
ALTER TABLE accounts ADD COLUMN rest_reply_url TEXT;
ALTER TABLE accounts ADD COLUMN rest_stop_url TEXT;
ALTER TABLE accounts ADD COLUMN inbound_email TEXT;
ALTER TABLE accounts ADD COLUMN default_sender TEXT;

-- A REST request_id expires after 24 h: the campaign keeps it here, and its request_id becomes NULL, so that
-- the id can be used again (campaigns.source = 'rest' tells which campaigns came through the REST API).
ALTER TABLE campaigns ADD COLUMN expired_request_id TEXT;
