-- Authenticating a call happens before its tenant is known. A transaction that names a key
-- hash (SET LOCAL tollgate.key_hash) may read that one key's row and nothing else.
CREATE POLICY key_lookup ON api_keys FOR SELECT
    USING (key_hash = current_setting('tollgate.key_hash', true));
