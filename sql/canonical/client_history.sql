-- Every version of every CRM account, typed.
SELECT
    id                                   AS crm_account_id,
    name                                 AS client_name,
    billingcountry                       AS billing_country,
    currencyisocode                      AS currency,
    industry,
    TRY_CAST(erp_customer_id__c AS BIGINT) AS erp_customer_id,
    CAST(isdeleted AS BOOLEAN)           AS is_deleted,
    CAST(systemmodstamp AS TIMESTAMP)    AS system_modstamp,
    _file_date AS extract_date, _source_ts, _record_key, _record_hash, _extract_id
FROM raw.crm_account WHERE delivered(_extract_id, _source_file)
