-- Every version of every CRM contract (root contracts and amendments), typed.
SELECT
    id AS contract_id, accountid AS crm_account_id, opportunity__c AS opportunity_id, contractnumber AS contract_number,
    status, CAST(startdate AS DATE) AS start_date, CAST(enddate AS DATE) AS end_date,
    CASE billing_type__c WHEN 'Time and Materials' THEN 'tm' WHEN 'Fixed Fee' THEN 'fixed_fee' END AS billing_type,
    rate_card__c AS rate_card_id,
    CAST(coalesce(discount_percent__c, '0') AS DECIMAL(9, 4)) AS discount_percent,
    CAST(nte_hours__c AS DECIMAL(18, 2)) AS nte_hours,
    currencyisocode AS currency, legal_entity__c AS legal_entity, amends__c AS amends_contract_id,
    CAST(isdeleted AS BOOLEAN) AS is_deleted, CAST(systemmodstamp AS TIMESTAMP) AS system_modstamp,
    _file_date AS extract_date, _source_ts, _record_key, _record_hash, _extract_id
FROM raw.crm_contract WHERE delivered(_extract_id, _source_file)
