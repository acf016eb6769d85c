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
        agency_id -> Nullable<Text>,
        notify_channels -> Text,
        mobile -> Nullable<Text>,
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
    signups (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        phone -> Text,
        password_hash -> Text,
        locale -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        notify_channels -> Text,
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
        failed_at -> Nullable<Timestamp>,
        channel -> Text,
    }
}

diesel::table! {
    mobile_verifications (user_id) {
        user_id -> Text,
        mobile -> Text,
        channels -> Text,
        code_hash -> Text,
        attempts -> Integer,
        sends -> Integer,
        sent_at -> Timestamp,
        expires_at -> Timestamp,
        created_at -> Timestamp,
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
diesel::joinable!(mobile_verifications -> users (user_id));


diesel::table! {
    rule_sets (id) {
        id -> Text,
        program_id -> Text,
        version -> Integer,
        effective_from -> Date,
        region_code -> Text,
        region_name -> Text,
        districts -> Text,
        min_gestational_week -> Integer,
        min_residency_months -> Integer,
        visit_count -> Integer,
        visit_hours -> Integer,
        yearly_capacity -> Integer,
        applications_open -> Bool,
        note -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        terms -> Text,
    }
}

diesel::table! {
    applications (id) {
        id -> Text,
        reference -> Text,
        program_id -> Text,
        user_id -> Text,
        rule_set_id -> Text,
        status -> Text,
        applicant_name -> Text,
        birth_date -> Nullable<Date>,
        phone -> Text,
        email -> Text,
        district_code -> Text,
        street_address -> Text,
        due_date -> Nullable<Date>,
        residency_start -> Nullable<Date>,
        birth_recorded_on -> Nullable<Date>,
        consent_at -> Nullable<Timestamp>,
        precheck_eligible -> Nullable<Bool>,
        precheck_reasons -> Text,
        capacity_year -> Nullable<Integer>,
        decision_reason -> Nullable<Text>,
        info_request -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        submitted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        priority_groups -> Text,
        income_within_limit -> Nullable<Bool>,
        income_checked_by -> Nullable<Text>,
        pregnancy_loss_on -> Nullable<Date>,
        agency_id -> Nullable<Text>,
        anonymised_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    application_documents (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        original_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        storage_name -> Text,
        uploaded_by -> Nullable<Text>,
        uploaded_at -> Timestamp,
        review_status -> Text,
        review_note -> Text,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    application_events (id) {
        id -> Text,
        application_id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        action -> Text,
        note -> Text,
    }
}

diesel::table! {
    capacity_counters (id) {
        id -> Text,
        used -> Integer,
    }
}

diesel::table! {
    access_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor_id -> Text,
        actor_role -> Text,
        ip -> Text,
        subject_user_id -> Nullable<Text>,
        record_id -> Nullable<Text>,
        action -> Text,
        reason -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(rule_sets -> programs (program_id));
diesel::joinable!(applications -> programs (program_id));
diesel::joinable!(applications -> users (user_id));
diesel::joinable!(applications -> rule_sets (rule_set_id));
diesel::joinable!(application_documents -> applications (application_id));
diesel::joinable!(application_events -> applications (application_id));

diesel::table! {
    visit_settings (id) {
        id -> Text,
        min_notice_days -> Integer,
        cancel_cutoff_hours -> Integer,
        late_cancel_counts -> Bool,
        no_show_counts -> Bool,
        booking_horizon_days -> Integer,
        unit_price_won -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    visit_slot_templates (id) {
        id -> Text,
        agency_id -> Text,
        weekday -> Integer,
        start_minute -> Integer,
        helpers -> Integer,
    }
}

diesel::table! {
    agency_holidays (agency_id, day) {
        agency_id -> Text,
        day -> Date,
        note -> Text,
    }
}

diesel::table! {
    visit_slots (id) {
        id -> Text,
        agency_id -> Text,
        day -> Date,
        start_minute -> Integer,
        capacity -> Integer,
        booked -> Integer,
    }
}

diesel::table! {
    visit_quotas (application_id) {
        application_id -> Text,
        quota -> Integer,
        used -> Integer,
    }
}

diesel::table! {
    visits (id) {
        id -> Text,
        application_id -> Text,
        user_id -> Text,
        slot_id -> Text,
        day -> Date,
        start_minute -> Integer,
        hours -> Integer,
        status -> Text,
        tasks -> Text,
        notes -> Text,
        helper_name -> Nullable<Text>,
        decline_reason -> Nullable<Text>,
        counts_against_quota -> Bool,
        cancelled_at -> Nullable<Timestamp>,
        actual_start -> Nullable<Timestamp>,
        actual_end -> Nullable<Timestamp>,
        tasks_done -> Nullable<Text>,
        resident_confirmed_at -> Nullable<Timestamp>,
        rating -> Nullable<Integer>,
        comment -> Nullable<Text>,
        reminder_sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        agency_id -> Nullable<Text>,
        helper_id -> Nullable<Text>,
        copay_won -> Integer,
    }
}

diesel::joinable!(visits -> applications (application_id));
diesel::joinable!(visits -> users (user_id));
diesel::joinable!(visits -> visit_slots (slot_id));
diesel::joinable!(visit_quotas -> applications (application_id));

diesel::table! {
    clinic_programs (id) {
        id -> Text,
        code -> Text,
        name_ko -> Text,
        name_en -> Text,
        kind -> Text,
        audience -> Text,
        infant_max_months -> Integer,
        capacity -> Integer,
        slot_minutes -> Integer,
        start_minute -> Integer,
        end_minute -> Integer,
        partner_seat -> Bool,
        booking_opens_days -> Integer,
        cancel_cutoff_hours -> Integer,
        active -> Bool,
        sort_order -> Integer,
    }
}

diesel::table! {
    clinic_sessions (id) {
        id -> Text,
        day -> Date,
        start_minute -> Integer,
        end_minute -> Integer,
        status -> Text,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    clinic_slots (id) {
        id -> Text,
        session_id -> Text,
        program_id -> Text,
        start_minute -> Integer,
        end_minute -> Integer,
        capacity -> Integer,
        booked -> Integer,
    }
}

diesel::table! {
    children (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        birth_date -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    clinic_bookings (id) {
        id -> Text,
        slot_id -> Text,
        session_id -> Text,
        program_id -> Text,
        user_id -> Text,
        child_id -> Nullable<Text>,
        due_date -> Nullable<Date>,
        seats -> Integer,
        status -> Text,
        reminder_sent_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        checked_in_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    clinic_walkins (id) {
        id -> Text,
        session_id -> Text,
        program_id -> Text,
        people -> Integer,
        note -> Text,
        recorded_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(clinic_slots -> clinic_sessions (session_id));
diesel::joinable!(clinic_slots -> clinic_programs (program_id));
diesel::joinable!(clinic_bookings -> clinic_slots (slot_id));
diesel::joinable!(clinic_bookings -> users (user_id));
diesel::joinable!(clinic_bookings -> children (child_id));
diesel::joinable!(children -> users (user_id));

diesel::table! {
    indicators (id) {
        id -> Text,
        program_code -> Text,
        code -> Text,
        name_ko -> Text,
        name_en -> Text,
        unit_ko -> Text,
        unit_en -> Text,
        source -> Text,
        sort_order -> Integer,
        active -> Bool,
    }
}

diesel::table! {
    indicator_targets (id) {
        id -> Text,
        indicator_id -> Text,
        period_label -> Text,
        period_start -> Date,
        period_end -> Date,
        value -> BigInt,
    }
}

diesel::table! {
    indicator_actuals (id) {
        id -> Text,
        indicator_id -> Text,
        period_label -> Text,
        period_start -> Date,
        period_end -> Date,
        value -> BigInt,
        origin -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    report_settings (program_code) {
        program_code -> Text,
        decimals -> Integer,
        term_start -> Date,
        term_end -> Date,
    }
}

diesel::table! {
    budgets (id) {
        id -> Text,
        program_code -> Text,
        year -> Integer,
        source -> Text,
        amount_won -> BigInt,
    }
}

diesel::table! {
    budget_executions (id) {
        id -> Text,
        program_code -> Text,
        year -> Integer,
        amount_won -> BigInt,
    }
}

diesel::joinable!(indicator_targets -> indicators (indicator_id));
diesel::joinable!(indicator_actuals -> indicators (indicator_id));

diesel::table! {
    password_resets (id) {
        id -> Text,
        user_id -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(password_resets -> users (user_id));

diesel::table! {
    city_settings (id) {
        id -> Text,
        name -> Text,
        name_en -> Text,
        region_code -> Text,
        region_name -> Text,
        contact -> Text,
        contact_en -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    districts (code) {
        code -> Text,
        name -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    agencies (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        phone -> Text,
        unit_price_won -> Integer,
        active -> Bool,
        sort_order -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agency_districts (agency_id, district_code) {
        agency_id -> Text,
        district_code -> Text,
    }
}

diesel::table! {
    helpers (id) {
        id -> Text,
        agency_id -> Text,
        name -> Text,
        phone -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    access_log_pending (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Text,
        actor_role -> Text,
        ip -> Text,
        subject_user_id -> Nullable<Text>,
        record_id -> Nullable<Text>,
        action -> Text,
        reason -> Text,
    }
}

diesel::table! {
    access_log_chainer (id) {
        id -> Integer,
        batches -> BigInt,
        chained_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    access_log_anchors (day) {
        day -> Date,
        last_seq -> BigInt,
        last_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    document_contents (document_id) {
        document_id -> Text,
        key_id -> Text,
        nonce -> Binary,
        ciphertext -> Binary,
    }
}

diesel::table! {
    retention_settings (id) {
        id -> Text,
        applications_days -> Integer,
        sessions_days -> Integer,
        password_resets_days -> Integer,
        signups_days -> Integer,
        outbox_days -> Integer,
        access_log_days -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    retention_runs (id) {
        id -> Text,
        started_at -> Timestamp,
        as_of -> Date,
        trigger_kind -> Text,
        actor_id -> Nullable<Text>,
        scheduled_day -> Nullable<Date>,
        applications -> Integer,
        documents -> Integer,
        sessions -> Integer,
        password_resets -> Integer,
        signups -> Integer,
        outbox -> Integer,
        access_log -> Integer,
        access_log_through_seq -> Nullable<BigInt>,
        access_log_through_hash -> Nullable<Text>,
    }
}

diesel::joinable!(document_contents -> application_documents (document_id));
diesel::joinable!(agency_districts -> agencies (agency_id));
diesel::joinable!(helpers -> agencies (agency_id));

diesel::table! {
    /// Counted figures of the results report per measure, subject and day,
    /// maintained with each change (see results::rollup).
    result_counts (measure, subject, day) {
        measure -> Text,
        subject -> Text,
        day -> Date,
        value -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));

diesel::table! {
    session_notes (id) {
        id -> Text,
        session_id -> Text,
        kind -> Text,
        body -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(session_notes -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    session_notes,
    retention_settings,
    retention_runs,
    access_log_anchors,
    access_log_pending,
    access_log_chainer,
    document_contents,
    city_settings,
    districts,
    agencies,
    agency_districts,
    helpers,
    users,
    sessions,
    login_throttle,
    outbox,
    signups,
    programs,
    rule_sets,
    applications,
    application_documents,
    application_events,
    capacity_counters,
    access_log,
    visit_settings,
    visit_slot_templates,
    agency_holidays,
    visit_slots,
    visit_quotas,
    visits,
    clinic_programs,
    clinic_sessions,
    clinic_slots,
    children,
    clinic_bookings,
    clinic_walkins,
    indicators,
    indicator_targets,
    indicator_actuals,
    report_settings,
    budgets,
    budget_executions,
    password_resets,
    mobile_verifications,
    result_counts,
);
