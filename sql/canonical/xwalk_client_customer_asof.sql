-- Crosswalk CRM account <-> ERP customer as of the end of as_of, by the account's ERP_Customer_Id__c.
-- A missing or unknown id is a master-data exception: listed with match_status, never guessed.
SELECT c.crm_account_id, c.client_name, c.erp_customer_id AS requested_customer_id, e.customer_id,
       e.company_name, e.tax_code, e.currency AS customer_currency,
       CASE WHEN c.erp_customer_id IS NULL THEN 'NO_ERP_ID'
            WHEN e.customer_id IS NULL THEN 'UNKNOWN_ERP_ID'
            ELSE 'MATCHED' END AS match_status
FROM canonical.client_asof(as_of) c
LEFT JOIN canonical.customer_asof(as_of) e ON e.customer_id = c.erp_customer_id
