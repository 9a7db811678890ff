-- PSA projects as they stood at the end of as_of: the latest version updated by then. The PSA keeps only a row's
-- current version, so what came before the first extraction that saw a project is lost: a project with no version
-- by then, whose start date shows it existed, stands in with its first known version, `reconstructed` (what it
-- said then is not known, so billing on it is held: recon.billing_holds).
SELECT * EXCLUDE (rn) FROM (
    SELECT *, updated_at >= as_of_end(as_of) AS reconstructed,
           row_number() OVER (PARTITION BY project_id ORDER BY psa_version_rank(updated_at, as_of), _extracted_at DESC) AS rn
    FROM canonical.project_history
) AS latest WHERE rn = 1 AND (NOT reconstructed OR start_date <= as_of)
