-- Not reversible without losing agencies' data; restore a backup instead.
SELECT 1;
