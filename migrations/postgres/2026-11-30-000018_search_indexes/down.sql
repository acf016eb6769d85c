DROP INDEX applications_birth_recorded_on;
DROP INDEX children_birth_date;
DROP INDEX users_mobile;
DROP INDEX users_phone;
DROP INDEX applications_phone;
