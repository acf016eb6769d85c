// Portable schema shared by the SQLite and PostgreSQL backends. Written by hand:
// only types that map on both sides (Text, Integer, BigInt, Bool, Timestamp, Date).

diesel::table! {
    users (id) {
        id -> Text,
        role -> Text,
        name -> Text,
        email -> Text,
        phone -> Text,
        password_hash -> Text,
        locale -> Text,
        is_supervisor -> Bool,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    programs (id) {
        id -> Text,
        code -> Text,
        name_ko -> Text,
        name_en -> Text,
        summary_ko -> Text,
        summary_en -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(outbox -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(users, sessions, login_throttle, outbox, programs);
