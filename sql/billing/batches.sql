-- Billing batch headers of legal entities $legal_entities for as-of date $as_of: totals are sums of the rounded lines.
SELECT batch_id, as_of_date, legal_entity, customer_id, currency,
       CAST(count(*) AS INTEGER) AS line_count,
       CAST(sum(amount) AS DECIMAL(18, 2)) AS net_amount,
       CAST(sum(tax_amount) AS DECIMAL(18, 2)) AS tax_amount,
       CAST(sum(amount) + sum(tax_amount) AS DECIMAL(18, 2)) AS gross_amount
FROM billing.batch_lines
WHERE as_of_date = $as_of::DATE AND list_contains($legal_entities, legal_entity)
GROUP BY ALL
ORDER BY batch_id
