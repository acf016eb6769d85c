DROP TABLE access_log;
DROP TABLE capacity_counters;
DROP TABLE application_events;
DROP TABLE application_documents;
DROP TABLE applications;
DROP TABLE rule_sets;
