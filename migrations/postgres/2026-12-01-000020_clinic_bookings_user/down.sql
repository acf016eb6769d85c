DROP INDEX clinic_bookings_user;
