-- The legal entities whose projects stand on as-of date $as_of: every billing line of the date belongs to one of
-- them (the line's entity is its project's), so one billing run per entity covers the date.
SELECT DISTINCT legal_entity
FROM canonical.project_asof($as_of::DATE)
WHERE legal_entity IS NOT NULL
ORDER BY legal_entity
