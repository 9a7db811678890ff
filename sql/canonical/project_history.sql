-- Every version of every PSA project.
SELECT project_id, project_code, name AS project_name, crm_account_id, nullif(crm_contract_id, '') AS crm_contract_id,
       legal_entity, billing_type, status, start_date, end_date, currency, practice, updated_at,
       _source_ts, _record_key, _record_hash, _extract_id, _extracted_at
FROM raw.psa_projects
