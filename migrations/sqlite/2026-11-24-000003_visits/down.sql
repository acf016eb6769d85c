DROP TABLE visits;
DROP TABLE visit_quotas;
DROP TABLE visit_slots;
DROP TABLE agency_holidays;
DROP TABLE visit_slot_templates;
DROP TABLE visit_settings;
