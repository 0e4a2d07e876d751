ALTER TABLE api_keys DROP CONSTRAINT ck_api_keys_models_gateway;
ALTER TABLE api_keys DROP COLUMN allowed_models;
