DROP POLICY IF EXISTS key_lookup ON api_keys;
