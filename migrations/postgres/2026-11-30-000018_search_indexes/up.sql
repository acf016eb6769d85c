-- Staff search (/staff/search): a full phone number and a child's date of
-- birth are looked up by equality. Phones are kept in one format
-- (010-1234-5678, accounts::domain::Phone), so a plain index serves them.
CREATE INDEX applications_phone ON applications(phone);
CREATE INDEX users_phone ON users(phone);
CREATE INDEX users_mobile ON users(mobile);
CREATE INDEX children_birth_date ON children(birth_date);
CREATE INDEX applications_birth_recorded_on ON applications(birth_recorded_on);
