-- ERP rate cards as of the end of as_of: master data files are full snapshots, the latest file by then wins.
SELECT * FROM canonical.rate_card_history
WHERE snapshot_date = (SELECT max(snapshot_date) FROM canonical.rate_card_history WHERE snapshot_date <= as_of)
