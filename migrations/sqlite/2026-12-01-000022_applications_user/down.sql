DROP INDEX applications_user;
