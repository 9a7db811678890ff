-- Every version of every CRM opportunity, typed; the staffing plan stays a JSON list.
SELECT
    id AS opportunity_id, accountid AS crm_account_id, name AS opportunity_name, stagename AS stage,
    CAST(probability AS DOUBLE) AS probability, CAST(amount AS DECIMAL(18, 2)) AS amount, currencyisocode AS currency,
    CAST(closedate AS DATE) AS close_date, practice__c AS practice, CAST(start_date__c AS DATE) AS start_date,
    CAST(end_date__c AS DATE) AS end_date, staffing_plan__c AS staffing_plan,
    CAST(isclosed AS BOOLEAN) AS is_closed, CAST(iswon AS BOOLEAN) AS is_won, CAST(isdeleted AS BOOLEAN) AS is_deleted,
    CAST(systemmodstamp AS TIMESTAMP) AS system_modstamp,
    _file_date AS extract_date, _source_ts, _record_key, _record_hash, _extract_id
FROM raw.crm_opportunity WHERE delivered(_extract_id, _source_file)
