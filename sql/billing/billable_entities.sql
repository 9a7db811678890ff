-- The legal entities that settle as-of date $as_of: every one whose projects stand on the date (every entry,
-- billing line and mart row of the date belongs to one of them: a line's entity is its project's), and every one
-- whose part of recon.time_to_bill holds the date already (its projects may have moved to another entity since: its
-- run of the date takes their rows out of its part). One run per entity covers the date.
SELECT DISTINCT legal_entity
FROM canonical.project_asof($as_of::DATE)
WHERE legal_entity IS NOT NULL
UNION
SELECT upper(regexp_extract(table_name, '__le_([a-z0-9]+)$', 1))
FROM ops.as_of_dates
WHERE as_of_date = $as_of::DATE AND regexp_full_match(table_name, 'recon\.time_to_bill__le_[a-z0-9]{2,12}')
ORDER BY legal_entity
