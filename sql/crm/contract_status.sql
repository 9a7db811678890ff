-- What finance knows of each root CRM Contract as of $as_of, in the contract's currency (Salesforce Bulk API 2.0
-- upsert on Id): hours and net billed to date on its projects' non-Voided invoices (dated on or before it), the
-- unbilled WIP of its projects (marts.unbilled_wip), the not-to-exceed hours that remain (marts.backlog; empty
-- when the contract has no cap) and the time entries of its projects that recon gives an owner to act on.
WITH
contracts AS (
    SELECT contract_id, currency
    FROM canonical.contract_version_asof($as_of::DATE)
    WHERE NOT is_amendment AND NOT coalesce(is_deleted, FALSE)
),

projects AS (
    SELECT project_code, crm_contract_id
    FROM canonical.project_asof($as_of::DATE)
    WHERE crm_contract_id IS NOT NULL
),

lines AS (
    SELECT
        p.crm_contract_id,
        sum(l.amount) AS billed_to_date,
        coalesce(sum(l.quantity) FILTER (WHERE l.item = 'PS-TM-HOURS'), 0) AS billed_hours
    FROM canonical.invoice_line_asof($as_of::DATE) AS l
    INNER JOIN canonical.live_invoice_asof($as_of::DATE) AS i ON l.invoice_id = i.invoice_id
    INNER JOIN projects AS p ON l.project_code = p.project_code
    WHERE i.invoice_date <= $as_of::DATE
    GROUP BY p.crm_contract_id
),

wip AS (
    SELECT p.crm_contract_id, sum(w.unbilled_value) AS unbilled_wip
    FROM marts.unbilled_wip AS w
    INNER JOIN projects AS p ON w.project_code = p.project_code
    WHERE w.as_of_date = $as_of::DATE
    GROUP BY p.crm_contract_id
),

flagged AS (
    SELECT p.crm_contract_id, count(*) AS open_exceptions
    FROM recon.time_to_bill AS t
    INNER JOIN projects AS p ON t.project_code = p.project_code
    WHERE t.as_of_date = $as_of::DATE AND t.owner IS NOT NULL
    GROUP BY p.crm_contract_id
),

caps AS (
    SELECT contract_id, remaining_hours FROM marts.backlog WHERE as_of_date = $as_of::DATE
)

SELECT
    c.contract_id AS id,
    CAST(coalesce(l.billed_to_date, 0) AS DECIMAL(18, 2)) AS billed_to_date,
    CAST(coalesce(l.billed_hours, 0) AS DECIMAL(18, 2)) AS billed_hours,
    CAST(coalesce(w.unbilled_wip, 0) AS DECIMAL(18, 2)) AS unbilled_wip,
    CAST(k.remaining_hours AS DECIMAL(18, 2)) AS remaining_nte_hours,
    CAST(coalesce(x.open_exceptions, 0) AS INTEGER) AS open_exceptions,
    c.currency AS currency
FROM contracts AS c
LEFT JOIN lines AS l ON c.contract_id = l.crm_contract_id
LEFT JOIN wip AS w ON c.contract_id = w.crm_contract_id
LEFT JOIN caps AS k ON c.contract_id = k.contract_id
LEFT JOIN flagged AS x ON c.contract_id = x.crm_contract_id
ORDER BY id
