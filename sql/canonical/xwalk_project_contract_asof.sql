-- Crosswalk PSA project <-> CRM root contract <-> ERP project code, as of the end of as_of.
SELECT p.project_id, p.project_code, p.billing_type, p.crm_contract_id, c.contract_id AS root_contract_id,
       p.project_code IN (SELECT DISTINCT project_code FROM canonical.invoice_line_asof(as_of)) AS on_erp_invoices,
       CASE WHEN p.billing_type = 'non_billable' AND p.crm_contract_id IS NULL THEN 'NOT_REQUIRED'
            WHEN p.crm_contract_id IS NULL THEN 'NO_CONTRACT_ID'
            WHEN c.contract_id IS NULL THEN 'UNKNOWN_CONTRACT'
            ELSE 'MATCHED' END AS match_status
FROM canonical.project_asof(as_of) p
LEFT JOIN canonical.contract_version_asof(as_of) c ON c.contract_id = p.crm_contract_id AND NOT c.is_amendment
