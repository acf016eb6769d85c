DROP TABLE clinic_walkins;
DROP TABLE clinic_bookings;
DROP TABLE children;
DROP TABLE clinic_slots;
DROP TABLE clinic_sessions;
DROP TABLE clinic_programs;
