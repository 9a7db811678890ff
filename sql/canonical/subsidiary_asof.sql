-- ERP subsidiarys as of the end of as_of: master data files are full snapshots, the latest file by then wins.
SELECT * FROM canonical.subsidiary_history
WHERE snapshot_date = (SELECT max(snapshot_date) FROM canonical.subsidiary_history WHERE snapshot_date <= as_of)
