DROP TABLE programs;
DROP TABLE outbox;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE users;
